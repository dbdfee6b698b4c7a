package lockdown

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

const schemaPath = "../docs/egress.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	file, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	document, err := jsonschema.UnmarshalJSON(file)
	if err != nil {
		t.Fatalf("parse %s: %v", schemaPath, err)
	}
	compiler := jsonschema.NewCompiler()
	if err := compiler.AddResource("egress.schema.json", document); err != nil {
		t.Fatal(err)
	}
	schema, err := compiler.Compile("egress.schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return schema
}

// yamlInstance converts a YAML file into the value a JSON Schema validator
// checks, the way an editor's YAML language server does.
func yamlInstance(t *testing.T, file string) any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("convert %s to JSON: %v", file, err)
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(jsonData))
	if err != nil {
		t.Fatal(err)
	}
	return instance
}

func TestSchemaAcceptsGoodFiles(t *testing.T) {
	schema := compileSchema(t)
	files, err := filepath.Glob("testdata/config/good/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if err := schema.Validate(yamlInstance(t, file)); err != nil {
				t.Errorf("schema rejects a file the parser accepts:\n%v", err)
			}
		})
	}
}

// TestSchemaRejectsBadFiles lists bad files whose problem the schema can
// express; the others need the parser (host rules, catalog, deny list).
func TestSchemaRejectsBadFiles(t *testing.T) {
	schema := compileSchema(t)
	for _, name := range []string{
		"allow-is-mapping", "allow-is-string", "bare-star", "catalog-name-looks-like-host",
		"catalog-name-number", "double-wildcard", "entry-is-list", "host-missing", "host-number",
		"host-too-long", "mode-boolean", "mode-unknown", "port-negative", "port-string",
		"port-too-large", "port-zero", "ports-empty", "ports-too-many", "protocol-https",
		"protocol-lower-case", "too-many-entries", "top-level-list", "unknown-entry-field",
		"unknown-top-level-field", "url-as-host", "version-2", "version-missing", "version-string",
		"wildcard-in-middle",
	} {
		t.Run(name, func(t *testing.T) {
			if err := schema.Validate(yamlInstance(t, "testdata/config/bad/"+name+".yaml")); err == nil {
				t.Error("schema accepts a file the parser rejects")
			}
		})
	}
}

// TestSchemaMatchesParser checks that the schema's keys, enums and limits
// are the parser's.
func TestSchemaMatchesParser(t *testing.T) {
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Required   []string `json:"required"`
		Properties struct {
			Version struct {
				Const int `json:"const"`
			} `json:"version"`
			Mode struct {
				Enum []string `json:"enum"`
			} `json:"mode"`
			Allow struct {
				MaxItems int `json:"maxItems"`
			} `json:"allow"`
		} `json:"properties"`
		Defs struct {
			CatalogName struct {
				Pattern string `json:"pattern"`
			} `json:"catalogName"`
			HostEntry struct {
				Required   []string `json:"required"`
				Properties map[string]struct {
					MaxLength int      `json:"maxLength"`
					MaxItems  int      `json:"maxItems"`
					Enum      []string `json:"enum"`
					Items     struct {
						Minimum int `json:"minimum"`
						Maximum int `json:"maximum"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"hostEntry"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	var top struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}

	if got := schemaKeys(top.Properties); !reflect.DeepEqual(got, sortedCopy(topLevelKeys)) {
		t.Errorf("schema top-level properties = %v, parser accepts %v", got, topLevelKeys)
	}
	hostProperties := map[string]json.RawMessage{}
	for key := range schema.Defs.HostEntry.Properties {
		hostProperties[key] = nil
	}
	if got := schemaKeys(hostProperties); !reflect.DeepEqual(got, sortedCopy(hostEntryKeys)) {
		t.Errorf("schema host entry properties = %v, parser accepts %v", got, hostEntryKeys)
	}
	if !reflect.DeepEqual(schema.Required, []string{"version"}) {
		t.Errorf("schema requires %v, parser requires [version]", schema.Required)
	}
	if !reflect.DeepEqual(schema.Defs.HostEntry.Required, []string{"host"}) {
		t.Errorf("schema host entry requires %v, parser requires [host]", schema.Defs.HostEntry.Required)
	}
	if schema.Properties.Version.Const != ConfigVersion {
		t.Errorf("schema version = %d, parser reads %d", schema.Properties.Version.Const, ConfigVersion)
	}
	if !reflect.DeepEqual(schema.Properties.Mode.Enum, []string{"enforce", "audit"}) {
		t.Errorf("schema modes = %v, parser accepts enforce and audit", schema.Properties.Mode.Enum)
	}
	if schema.Properties.Allow.MaxItems != MaxAllowEntries {
		t.Errorf("schema allow maxItems = %d, parser allows %d", schema.Properties.Allow.MaxItems, MaxAllowEntries)
	}
	if schema.Defs.CatalogName.Pattern != catalogNamePattern.String() {
		t.Errorf("schema catalog name pattern = %q, parser uses %q", schema.Defs.CatalogName.Pattern, catalogNamePattern.String())
	}
	host := schema.Defs.HostEntry.Properties["host"]
	if host.MaxLength != maxHostLength {
		t.Errorf("schema host maxLength = %d, parser allows %d", host.MaxLength, maxHostLength)
	}
	ports := schema.Defs.HostEntry.Properties["ports"]
	if ports.MaxItems != MaxPortsPerEntry || ports.Items.Minimum != 1 || ports.Items.Maximum != 65535 {
		t.Errorf("schema ports = %d items of %d-%d, parser allows %d items of 1-65535", ports.MaxItems, ports.Items.Minimum, ports.Items.Maximum, MaxPortsPerEntry)
	}
	if got := schema.Defs.HostEntry.Properties["protocol"].Enum; !reflect.DeepEqual(got, []string{"TLS", "HTTP"}) {
		t.Errorf("schema protocols = %v, parser accepts TLS and HTTP", got)
	}
}

func schemaKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

func sortedCopy(values []string) []string {
	sorted := append([]string(nil), values...)
	sort.Strings(sorted)
	return sorted
}
