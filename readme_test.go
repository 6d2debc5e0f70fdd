package tiersession_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// snippetMarker introduces a README code block that must equal the body of
// an Example function: <!-- example: DIR NAME --> names the directory
// (relative to the module root) and the function.
var snippetMarker = regexp.MustCompile("(?m)^<!-- example: (\\S+) (\\w+) -->\n```go\n((?s:.*?))```\n")

// TestReadmeSnippets checks that every Go snippet in README.md is the body
// of a compiled Example, word for word, so the README cannot drift from
// code that builds (and, for examples with an Output comment, runs).
func TestReadmeSnippets(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	marked := snippetMarker.FindAllSubmatch(readme, -1)
	if len(marked) == 0 {
		t.Fatal("README.md has no marked snippets")
	}
	if all := bytes.Count(readme, []byte("```go\n")); all != len(marked) {
		t.Errorf("README.md has %d Go blocks but %d are marked as examples: mark each with <!-- example: DIR NAME -->", all, len(marked))
	}
	bodies := map[string]map[string]string{}
	for _, m := range marked {
		dir, name, snippet := string(m[1]), string(m[2]), string(m[3])
		if bodies[dir] == nil {
			bodies[dir] = exampleBodies(t, dir)
		}
		body, ok := bodies[dir][name]
		if !ok {
			t.Errorf("README names %s in %s, which has no such example", name, dir)
			continue
		}
		if body != snippet {
			t.Errorf("README snippet for %s/%s differs from the example's body.\nREADME:\n%s\nexample:\n%s", dir, name, snippet, body)
		}
	}
}

// exampleBodies returns the Example functions of dir's test files: each
// body without its braces, its Output comment and one level of indent.
func exampleBodies(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fn.Name.Name, "Example") || fn.Body == nil {
				continue
			}
			body := string(src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset])
			var lines []string
			for _, l := range strings.Split(strings.Trim(body, "\n"), "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "// Output:") {
					break
				}
				lines = append(lines, strings.TrimPrefix(l, "\t"))
			}
			out[fn.Name.Name] = strings.Join(lines, "\n") + "\n"
		}
	}
	return out
}
