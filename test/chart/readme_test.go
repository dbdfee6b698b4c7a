package chart

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The chart README's values table sits between these two markers and is
// generated from the comments in values.yaml.
const (
	valuesTableBegin = "<!-- values table: generated from values.yaml by `go test ./test/chart -update` -->"
	valuesTableEnd   = "<!-- end of values table -->"
)

// valueDoc is one documented value of values.yaml.
type valueDoc struct {
	// Path is the dotted key, for example "image.tag".
	Path string
	// Default is the default value as compact JSON.
	Default string
	// Description is the first paragraph of the key's comment.
	Description string
}

// documentValues walks values.yaml and returns one entry per value, in file
// order. A mapping without a comment is a section: its keys are documented
// one by one. A mapping with a comment is one value, like a list or a
// scalar. Keys without a comment are returned in missing.
func documentValues(data []byte) (docs []valueDoc, missing []string, err error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, fmt.Errorf("parse values.yaml: %w", err)
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("values.yaml: expected a mapping at the top level")
	}
	err = walkValues(root.Content[0], "", &docs, &missing)
	return docs, missing, err
}

func walkValues(mapping *yaml.Node, prefix string, docs *[]valueDoc, missing *[]string) error {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		key, value := mapping.Content[i], mapping.Content[i+1]
		path := prefix + key.Value
		description := commentParagraph(key.HeadComment)

		if value.Kind == yaml.MappingNode && len(value.Content) > 0 && description == "" {
			if err := walkValues(value, path+".", docs, missing); err != nil {
				return err
			}
			continue
		}
		if description == "" {
			*missing = append(*missing, fmt.Sprintf("%s (line %d)", path, key.Line))
		}
		defaultValue, err := compactDefault(value)
		if err != nil {
			return fmt.Errorf("values.yaml line %d, %s: %w", key.Line, path, err)
		}
		*docs = append(*docs, valueDoc{Path: path, Default: defaultValue, Description: description})
	}
	return nil
}

// commentParagraph returns the first paragraph of a head comment, joined
// into one line. A line holding only "#" ends the paragraph, so examples
// after it stay out of the table.
func commentParagraph(comment string) string {
	// yaml.v3 joins the comment blocks above a key with blank lines. Only
	// the block next to the key documents it.
	if index := strings.LastIndex(comment, "\n\n"); index >= 0 {
		comment = comment[index+2:]
	}
	var words []string
	for _, line := range strings.Split(comment, "\n") {
		line = strings.TrimSpace(line)
		if line == "#" {
			break
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if line != "" {
			words = append(words, line)
		}
	}
	return strings.Join(words, " ")
}

// compactDefault returns a value as compact JSON, or a pointer to
// values.yaml for long lists.
func compactDefault(value *yaml.Node) (string, error) {
	var decoded any
	if err := value.Decode(&decoded); err != nil {
		return "", err
	}
	if decoded == nil {
		return "`null`", nil
	}
	encoded, err := json.Marshal(decoded)
	if err != nil {
		return "", err
	}
	if len(encoded) > 60 {
		if list, ok := decoded.([]any); ok {
			return fmt.Sprintf("%d entries, see values.yaml", len(list)), nil
		}
		return "see values.yaml", nil
	}
	return "`" + string(encoded) + "`", nil
}

// valuesTable renders the Markdown table of the chart README.
func valuesTable(docs []valueDoc) string {
	var table strings.Builder
	table.WriteString("| Key | Default | Description |\n|---|---|---|\n")
	for _, doc := range docs {
		fmt.Fprintf(&table, "| `%s` | %s | %s |\n", doc.Path, strings.ReplaceAll(doc.Default, "|", `\|`), strings.ReplaceAll(doc.Description, "|", `\|`))
	}
	return table.String()
}

// TestEveryValueHasComment checks that values.yaml documents every key.
func TestEveryValueHasComment(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	docs, missing, err := documentValues(data)

	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 50 {
		t.Errorf("found %d documented values, expected the whole values.yaml (at least 50)", len(docs))
	}
	for _, key := range missing {
		t.Errorf("values.yaml key %s has no comment above it", key)
	}
}

// TestDocumentValuesFindsMissingComment checks that the walk reports a key
// without a comment and keeps sections without one.
func TestDocumentValuesFindsMissingComment(t *testing.T) {
	data := []byte("# Header of the file.\n\nsection:\n  # Documented.\n  documented: 1\n  undocumented: []\n")

	docs, missing, err := documentValues(data)

	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || !strings.HasPrefix(missing[0], "section.undocumented ") {
		t.Errorf("missing = %q, expected only section.undocumented", missing)
	}
	if len(docs) != 2 || docs[0].Description != "Documented." || docs[0].Default != "`1`" {
		t.Errorf("docs = %+v, expected section.documented with its comment and default first", docs)
	}
}

// TestREADMEValuesTableUpToDate checks that the chart README's values table
// matches values.yaml; -update rewrites it.
func TestREADMEValuesTableUpToDate(t *testing.T) {
	dir := chartDir(t)
	values, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs, _, err := documentValues(values)
	if err != nil {
		t.Fatal(err)
	}
	readmePath := filepath.Join(dir, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	begin := strings.Index(text, valuesTableBegin)
	end := strings.Index(text, valuesTableEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s lacks the values table markers %q and %q", readmePath, valuesTableBegin, valuesTableEnd)
	}

	want := text[:begin+len(valuesTableBegin)] + "\n" + valuesTable(docs) + text[end:]

	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != text {
		t.Errorf("the values table in %s is out of date; run `go test ./test/chart -update`.\n%s", readmePath, firstDifference(text, want))
	}
}
