package cli

import (
	"os"
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

// TestREADMEGrpcurlCalls holds the grpcurl calls of the README, which the
// README test cannot run (grpcurl is not packaged for Debian), to the API:
// every method they call exists, and every request body they send is one
// that method takes, read as grpcurl reads it (protojson, no unknown
// field). Every block's, not only the walk-through's: the watch of
// "Watching a queue live" is one too.
func TestREADMEGrpcurlCalls(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block strings.Builder
	for _, b := range readmeBlocks(t, string(md)) {
		if strings.Contains(b.text, "grpcurl ") {
			block.WriteString(b.text + "\n")
		}
	}
	// One command a line once continued lines are joined; the shell's
	// quoting undone and the walk-through's variables given a value.
	commands := strings.Split(strings.ReplaceAll(block.String(), "\\\n", " "), "\n")
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
	if calls < 4 {
		t.Fatalf("read only %d calls from the grpcurl blocks:\n%s", calls, block.String())
	}
}
