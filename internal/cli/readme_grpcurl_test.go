package cli

import (
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	// The services the README calls, registered as reflection serves them.
	_ "github.com/childcase/childcase/api/childcase/v1"
	_ "google.golang.org/grpc/health/grpc_health_v1"
)

// TestREADMEGrpcurlCalls holds the grpcurl walk-through, which the README
// test cannot run (grpcurl is not packaged for Debian), to the API: every
// method it calls exists, and every request body it sends is one that
// method takes, read as grpcurl reads it (protojson, no unknown field).
func TestREADMEGrpcurlCalls(t *testing.T) {
	section := readmeSection(t, "Trying it with grpcurl")
	block := section[strings.Index(section, "```console\n")+len("```console\n"):]
	block = block[:strings.Index(block, "```")]
	// One command a line once continued lines are joined; the shell's
	// quoting undone and the walk-through's variables given a value.
	commands := strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n")
	vars := strings.NewReplacer(`\"`, `"`, "$CASE", "cases/HN-2026-00005")
	body := regexp.MustCompile(`-d '([^']*)'|-d "((?:[^"\\]|\\.)*)"`)
	method := regexp.MustCompile(`\s([a-z0-9.]+\.[A-Z][A-Za-z]+)/([A-Z][A-Za-z]+)\s*$`)
	calls := 0
	for _, cmd := range commands {
		if !strings.HasPrefix(cmd, "grpcurl ") || strings.HasSuffix(cmd, " list") {
			continue
		}
		m := method.FindStringSubmatch(cmd)
		if m == nil {
			t.Errorf("no service/method at the end of %q", cmd)
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(m[1]))
		if err != nil {
			t.Errorf("%s: %v", m[1], err)
			continue
		}
		service, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			t.Errorf("%s is no service", m[1])
			continue
		}
		md := service.Methods().ByName(protoreflect.Name(m[2]))
		if md == nil {
			t.Errorf("%s has no method %s", m[1], m[2])
			continue
		}
		calls++
		b := body.FindStringSubmatch(cmd)
		if b == nil {
			continue
		}
		req := dynamicpb.NewMessage(md.Input())
		if err := protojson.Unmarshal([]byte(vars.Replace(b[1]+b[2])), req); err != nil {
			t.Errorf("%s/%s does not take the README's body: %v", m[1], m[2], err)
		}
	}
	if calls < 3 {
		t.Fatalf("read only %d calls from the grpcurl block:\n%s", calls, block)
	}
}
