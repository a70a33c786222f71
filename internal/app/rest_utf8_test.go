package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// Every path and query parameter of every REST route, as the OpenAPI
// document lists them, answers 400 naming the parameter when its value
// is not UTF-8 (%ff), instead of the 500 "grpc: error while marshaling"
// of the gateway. The caller is one the route's method admits, so that
// nothing but the value can be refused.
func TestRESTParametersNotUTF8(t *testing.T) {
	ts := setupMatrix(t).ts // a user of every role
	users := map[model.Role]string{}
	for _, r := range mxRoles {
		users[model.Role(r.role)] = r.in // numbered alike
	}

	doc := readOpenAPI(t)
	templates := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		templates = append(templates, p)
	}
	sort.Strings(templates)
	cases := 0
	for _, template := range templates {
		for method, op := range doc.Paths[template] {
			service, rpc, _ := strings.Cut(op.OperationID, "_")
			roles, _ := grpcapi.MethodRoles("/childcase.v1." + service + "/" + rpc)
			if len(roles) == 0 {
				t.Fatalf("%s %s: no method rule for %s", method, template, op.OperationID)
			}
			user := users[roles[0]]
			if user == "" {
				t.Fatalf("%s: no test user of role %s", op.OperationID, roles[0])
			}
			for _, target := range op.Parameters {
				if target.In != "path" && target.In != "query" {
					continue
				}
				path := template
				for _, p := range op.Parameters {
					if p.In == "path" {
						value := "x"
						if p.Name == target.Name {
							value = "%ff"
						}
						path = strings.Replace(path, "{"+p.Name+"}", value, 1)
					}
				}
				if target.In == "query" {
					path += "?" + url.QueryEscape(target.Name) + "=%ff"
				}
				cases++
				t.Run(strings.ToUpper(method)+" "+path, func(t *testing.T) {
					body := ""
					if method != "get" {
						body = "{}"
					}
					code, raw := restRaw(t, ts, strings.ToUpper(method), path, body, map[string]string{
						"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(user),
					})
					var answer struct {
						Message string `json:"message"`
						Details []struct {
							FieldViolations []struct {
								Field string `json:"field"`
							} `json:"field_violations"`
						} `json:"details"`
					}
					_ = json.Unmarshal(raw, &answer)
					if code != http.StatusBadRequest || !strings.Contains(answer.Message, target.Name) {
						t.Fatalf("%d %.300s, want 400 naming %s", code, raw, target.Name)
					}
					var fields []string
					for _, d := range answer.Details {
						for _, v := range d.FieldViolations {
							fields = append(fields, v.Field)
						}
					}
					if !slices.Contains(fields, target.Name) {
						t.Errorf("BadRequest fields %v, want %s", fields, target.Name)
					}
				})
			}
		}
	}
	// Beyond the document: a parameter by its JSON name (the gateway
	// takes those too), and one it does not know. (A path of no route is
	// 404, whatever its input: TestRESTBadInputOnAPathNoRouteTakesIsARoutingRefusal.)
	for path, want := range map[string]string{
		"/v1/reports?pageToken=%ff":          "pageToken",
		"/v1/reports?colour=%ff&page_size=5": "colour",
	} {
		code, raw := restRaw(t, ts, "GET", path, "", map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)})
		if code != http.StatusBadRequest || !strings.Contains(string(raw), `"field":"`+want+`"`) {
			t.Errorf("%s: %d %.300s, want 400 naming %s", path, code, raw, want)
		}
	}
	if cases < 50 {
		t.Errorf("only %d parameters in the OpenAPI document", cases)
	}
}
