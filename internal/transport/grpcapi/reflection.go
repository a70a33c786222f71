package grpcapi

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	rpbv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// registerReflection registers server reflection (v1 and v1alpha) on s,
// showing the API alone: the files of the services s serves, with what
// they import, and those of the error details every error carries. The
// default would show every file linked into the binary, to anyone, since
// reflection needs no token: the stored records' schema
// (proto/childcase/storage/v1, which is no part of the API and names the
// sealed fields and the indexes) and the protos of the libraries (etcd's
// client, Prometheus). It must run after every other service is
// registered.
func registerReflection(s *grpc.Server) error {
	files, err := apiFiles(s)
	if err != nil {
		return err
	}
	svr := reflection.NewServerV1(reflection.ServerOptions{
		Services: s, DescriptorResolver: files, ExtensionResolver: apiExtensions{files: files},
	})
	rpbv1.RegisterServerReflectionServer(s, svr)
	// The v1alpha service is the same server; its own file is shown too.
	rpbv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{
		Services: s, DescriptorResolver: files, ExtensionResolver: apiExtensions{files: files},
	}))
	return nil
}

// apiFiles returns the files that describe the services registered on s,
// the reflection services', and the error details', each with the files
// it imports.
func apiFiles(s *grpc.Server) (*protoregistry.Files, error) {
	files := new(protoregistry.Files)
	roots := []protoreflect.FileDescriptor{
		rpbv1.File_grpc_reflection_v1_reflection_proto,
		rpbv1alpha.File_grpc_reflection_v1alpha_reflection_proto,
		status.File_google_rpc_status_proto,
		errdetails.File_google_rpc_error_details_proto,
	}
	for name := range s.GetServiceInfo() {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("grpcapi: reflection: the descriptor of service %s: %w", name, err)
		}
		roots = append(roots, d.ParentFile())
	}
	for _, fd := range roots {
		if err := addFile(files, fd); err != nil {
			return nil, fmt.Errorf("grpcapi: reflection: %w", err)
		}
	}
	return files, nil
}

// addFile registers fd in files after the files it imports (a registry
// resolves a file's imports when it is added).
func addFile(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		if err := addFile(files, imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return files.RegisterFile(fd)
}

// apiExtensions answers reflection's questions about extensions with
// those declared in the API's files (the validation rules, the HTTP
// mapping, the OpenAPI options), leaving out those of other linked files.
type apiExtensions struct {
	files *protoregistry.Files
}

func (x apiExtensions) shown(xt protoreflect.ExtensionType) bool {
	_, err := x.files.FindFileByPath(xt.TypeDescriptor().ParentFile().Path())
	return err == nil
}

// FindExtensionByName implements reflection.ExtensionResolver.
func (x apiExtensions) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	xt, err := protoregistry.GlobalTypes.FindExtensionByName(field)
	if err != nil {
		return nil, err
	}
	if !x.shown(xt) {
		return nil, protoregistry.NotFound
	}
	return xt, nil
}

// FindExtensionByNumber implements reflection.ExtensionResolver.
func (x apiExtensions) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	xt, err := protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
	if err != nil {
		return nil, err
	}
	if !x.shown(xt) {
		return nil, protoregistry.NotFound
	}
	return xt, nil
}

// RangeExtensionsByMessage implements reflection.ExtensionResolver.
func (x apiExtensions) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	protoregistry.GlobalTypes.RangeExtensionsByMessage(message, func(xt protoreflect.ExtensionType) bool {
		return !x.shown(xt) || f(xt)
	})
}
