package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLicenceAndSecurityPolicy holds the files issue 15 asks for: a
// LICENSE with the Apache License 2.0 whole, which the README's Licence
// section names; the MIT notices of the embedded unit data, one for each
// data file, so that the two licences' terms are both met; and a
// SECURITY.md that says how to report privately and what is in scope.
func TestLicenceAndSecurityPolicy(t *testing.T) {
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	licence := read("LICENSE")
	for _, want := range []string{"Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "END OF TERMS AND CONDITIONS"} {
		if !strings.Contains(licence, want) {
			t.Errorf("LICENSE lacks %q: it is not the Apache License 2.0 whole", want)
		}
	}
	readme := strings.Join(strings.Fields(read("README.md")), " ")
	for _, want := range []string{"licensed under the Apache License 2.0 (`LICENSE`)", "`internal/domain/units/data/LICENSE-MIT.md`", "see `SECURITY.md`"} {
		if !strings.Contains(readme, want) {
			t.Errorf("the README's Licence section no longer says %q", want)
		}
	}

	mit := read("internal/domain/units/data/LICENSE-MIT.md")
	const notice = "Permission is hereby granted, free of charge, to any person obtaining a copy"
	sections := strings.Split(mit, "\n## ")[1:]
	if len(sections) == 0 {
		t.Fatal("LICENSE-MIT.md has no section per source")
	}
	for _, s := range sections {
		if !strings.Contains(s, notice) {
			t.Errorf("LICENSE-MIT.md, section %q: no MIT permission notice", strings.SplitN(s, "\n", 2)[0])
		}
	}
	data, err := filepath.Glob("../../internal/domain/units/data/*.json")
	if err != nil || len(data) == 0 {
		t.Fatalf("no unit data files: %v", err)
	}
	for _, f := range data {
		if !strings.Contains(mit, "`"+filepath.Base(f)+"`") {
			t.Errorf("LICENSE-MIT.md does not say which notice covers %s", filepath.Base(f))
		}
	}

	policy := read("SECURITY.md")
	// "Supported versions" tells a reporter how to name the revision a
	// server runs: by the line the server logs at every start
	// (app.TestStartLogsBuild), not by childcase version alone, which
	// names only the binary it is run from.
	for _, want := range []string{"## How to report", "privately", "## In scope", "## Out of scope", "Never send real case data", `"msg":"childcase build"`} {
		if !strings.Contains(policy, want) {
			t.Errorf("SECURITY.md lacks %q", want)
		}
	}
}
