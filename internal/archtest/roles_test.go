package archtest

import (
	"go/ast"
	"go/token"
	"strings"
	"testing"
)

// roleWordings are the functions outside internal/domain/access that may
// compare a role with a role constant, and why: they decide no access,
// only words or a form's default.
var roleWordings = map[string]string{
	"internal/domain/process/table.go:roleWords":      "words of the README's step table, made from access's rules",
	"internal/transport/web/intake.go:defaultChannel": "the intake form's default channel, which the user may change",
}

// TestRolesAreDecidedInAccess: who may do what, and who sees what, is
// decided in one table (internal/domain/access), which the gRPC rules,
// the matrix test and the README derive from. A literal role compared
// anywhere else (a handler, a domain service, the console) is a second
// place deciding it, which the table's readers never see.
func TestRolesAreDecidedInAccess(t *testing.T) {
	pkgs, fset := goPackages(t)
	for dir, files := range pkgs {
		if dir == "internal/domain/access" || dir == "internal/domain/model" {
			continue
		}
		for _, f := range files {
			for _, decl := range f.file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				if _, allowed := roleWordings[f.rel+":"+fn.Name.Name]; allowed {
					continue
				}
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					var operands []ast.Expr
					switch n := n.(type) {
					case *ast.BinaryExpr:
						if n.Op == token.EQL || n.Op == token.NEQ {
							operands = []ast.Expr{n.X, n.Y}
						}
					case *ast.CaseClause:
						operands = n.List
					}
					for _, e := range operands {
						if role := roleConstant(e); role != "" {
							t.Errorf("%s: %s compares a role with %s: decide it in internal/domain/access", fset.Position(e.Pos()), fn.Name.Name, role)
						}
					}
					return true
				})
			}
		}
	}
}

// roleConstant returns "model.RoleX" when e is that constant.
func roleConstant(e ast.Expr) string {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok || pkg.Name != "model" || !strings.HasPrefix(sel.Sel.Name, "Role") || sel.Sel.Name == "Roles" {
		return ""
	}
	return pkg.Name + "." + sel.Sel.Name
}
