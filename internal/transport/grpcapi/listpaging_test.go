package grpcapi

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/childcase/childcase/api/childcase/v1" // registers the API's files
)

// Every List method of the API pages (AIP-158): its request takes
// page_size and page_token, and its response gives next_page_token.
// ListTokens and ListPoliceUnits answered everything at once.
func TestEveryListMethodPages(t *testing.T) {
	lists := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("childcase.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			methods := f.Services().Get(i).Methods()
			for j := range methods.Len() {
				m := methods.Get(j)
				if !strings.HasPrefix(string(m.Name()), "List") || m.IsStreamingServer() {
					continue
				}
				lists++
				in, out := m.Input().Fields(), m.Output().Fields()
				for _, f := range []struct {
					fields protoreflect.FieldDescriptors
					name   protoreflect.Name
					kind   protoreflect.Kind
				}{{in, "page_size", protoreflect.Int32Kind}, {in, "page_token", protoreflect.StringKind}, {out, "next_page_token", protoreflect.StringKind}} {
					if fd := f.fields.ByName(f.name); fd == nil || fd.Kind() != f.kind {
						t.Errorf("%s: no %s %s", m.FullName(), f.kind, f.name)
					}
				}
			}
		}
		return true
	})
	if lists < 8 {
		t.Errorf("found %d List methods; the API has at least 8", lists)
	}
}
