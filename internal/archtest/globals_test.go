package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goFile is a parsed Go file of the module (not a test), by its path
// from the module root.
type goFile struct {
	rel  string
	file *ast.File
}

// goPackages parses the Go files (not tests, not generated) of each
// folder under internal/, by folder from the module root; fset places
// their nodes.
func goPackages(t *testing.T) (pkgs map[string][]goFile, fset *token.FileSet) {
	t.Helper()
	root := "../.."
	pkgs, fset = map[string][]goFile{}, token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		// Generated code (protoc's init) is not ours to hold to these rules.
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, ".pb.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.ToSlash(filepath.Dir(rel))
		pkgs[dir] = append(pkgs[dir], goFile{rel: filepath.ToSlash(rel), file: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs["internal/domain/process"]) == 0 {
		t.Fatal("no files found for internal/domain/process: the walk is not the module's")
	}
	return pkgs, fset
}

// TestDomainTakesTimeFromTheClock: domain code reads the time from the
// injected clock (internal/domain/clock), so that a test, or a scenario
// over Hanoi's holidays, sets it; never from the machine's.
func TestDomainTakesTimeFromTheClock(t *testing.T) {
	pkgs, _ := goPackages(t)
	for dir, files := range pkgs {
		if !strings.HasPrefix(dir, "internal/domain/") || dir == "internal/domain/clock" {
			continue
		}
		for _, f := range files {
			ast.Inspect(f.file, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "time" && pkg.Obj == nil &&
					(sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Until") {
					t.Errorf("%s: time.%s in the domain: take the time from the injected clock", f.rel, sel.Sel.Name)
				}
				return true
			})
		}
	}
}

// TestNoGlobalIsWritten: a package-level variable is a constant table
// or a sentinel error, set once where it is declared; no function writes
// one, so that two servers in one process (the tests start many) share
// no state.
func TestNoGlobalIsWritten(t *testing.T) {
	pkgs, _ := goPackages(t)
	for _, files := range pkgs {
		globals, specs := map[string]bool{}, map[*ast.ValueSpec]bool{}
		for _, f := range files {
			for _, decl := range f.file.Decls {
				if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
					for _, spec := range gd.Specs {
						specs[spec.(*ast.ValueSpec)] = true
						for _, name := range spec.(*ast.ValueSpec).Names {
							globals[name.Name] = true
						}
					}
				}
			}
		}
		for _, f := range files {
			for _, decl := range f.file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				written := func(e ast.Expr) {
					if id := rootIdent(e); id != nil && id.Name != "_" && globals[id.Name] && isPackageLevel(id, specs) {
						t.Errorf("%s: %s writes package-level %s", f.rel, fn.Name.Name, id.Name)
					}
				}
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.AssignStmt:
						if n.Tok != token.DEFINE {
							for _, lhs := range n.Lhs {
								written(lhs)
							}
						}
					case *ast.IncDecStmt:
						written(n.X)
					}
					return true
				})
			}
		}
	}
}

// rootIdent is the variable an assignment's left side writes into: x of
// x, x.f, x[i] and *x.
func rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch v := e.(type) {
		case *ast.Ident:
			return v
		case *ast.SelectorExpr:
			e = v.X
		case *ast.IndexExpr:
			e = v.X
		case *ast.StarExpr:
			e = v.X
		case *ast.ParenExpr:
			e = v.X
		default:
			return nil
		}
	}
}

// isPackageLevel reports whether id, as the parser resolved it within
// its file, is no local: one of the package's top-level specs, or
// declared in another file of the package (left unresolved).
func isPackageLevel(id *ast.Ident, specs map[*ast.ValueSpec]bool) bool {
	if id.Obj == nil {
		return true
	}
	spec, ok := id.Obj.Decl.(*ast.ValueSpec)
	return ok && specs[spec]
}
