package grpcapi

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
)

// Every method the server registers has a rule: a row of access's table,
// or it is one of the public probes; and every row of the table names a
// method the server registers, so a renamed or removed method cannot leave
// a stale row behind.
func TestEveryRegisteredMethodHasARule(t *testing.T) {
	s, err := NewServer(Deps{Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop) // its stream workers run from NewServer until Stop
	registered := map[string]bool{}
	for service, info := range s.GetServiceInfo() {
		for _, m := range info.Methods {
			full := "/" + service + "/" + m.Name
			registered[full] = true
			roles, public := MethodRoles(full)
			switch {
			case public && strings.HasPrefix(full, apiPackage):
				t.Errorf("%s is a childcase method that needs no token", full)
			case !public && len(roles) == 0:
				t.Errorf("%s has no row in access's table", full)
			}
		}
	}
	if len(registered) < 40 {
		t.Fatalf("the server registers only %d methods", len(registered))
	}
	for _, r := range access.Rules() {
		if !registered[apiPackage+r.Method] {
			t.Errorf("access's table has a row for %s, which the server does not register", r.Method)
		}
	}
}

// The validator compiles the rules of every request the server takes
// before it serves (requestDescriptors): a validator that may compile
// nothing later (WithDisableLazy) validates a request of each registered
// method, which it would refuse as having no rules compiled for it.
func TestEveryRegisteredRequestIsCompiledAtStart(t *testing.T) {
	s, err := NewServer(Deps{Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop) // its stream workers run from NewServer until Stop
	v, err := protovalidate.New(protovalidate.WithDisableLazy(), protovalidate.WithMessageDescriptors(requestDescriptors()...))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for service, info := range s.GetServiceInfo() {
		if !strings.HasPrefix("/"+service+"/", apiPackage) {
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range info.Methods {
			in := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(m.Name)).Input()
			err := v.Validate(dynamicpb.NewMessage(in))
			if _, invalid := errors.AsType[*protovalidate.ValidationError](err); err != nil && !invalid {
				t.Errorf("%s/%s: %v", service, m.Name, err)
			}
			n++
		}
	}
	if n < 40 {
		t.Fatalf("only %d methods checked", n)
	}
}
