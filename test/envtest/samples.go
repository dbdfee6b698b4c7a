package envtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// SampleObjects reads every object of one file in SamplesDir, in file
// order. It skips the test when the samples directory does not exist.
func SampleObjects(tb testing.TB, file string) []*unstructured.Unstructured {
	tb.Helper()

	dir := SamplesDir()
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("ARC samples not found at %s (set ARC_SAMPLES_DIR): %v", dir, err)
	}
	objs, err := ReadObjects(filepath.Join(dir, file))
	if err != nil {
		tb.Fatal(err)
	}
	return objs
}

// SampleObject returns the one object of the given kind in a sample file.
func SampleObject(tb testing.TB, file, kind string) *unstructured.Unstructured {
	tb.Helper()

	var found *unstructured.Unstructured
	for _, obj := range SampleObjects(tb, file) {
		if obj.GetKind() != kind {
			continue
		}
		if found != nil {
			tb.Fatalf("%s holds more than one %s", file, kind)
		}
		found = obj
	}
	if found == nil {
		tb.Fatalf("%s holds no %s", file, kind)
	}
	return found
}

// ReadObjects decodes every YAML document of a file into an unstructured
// object, skipping empty documents.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}

	var objs []*unstructured.Unstructured
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var content map[string]any
		if err := decoder.Decode(&content); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if len(content) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: content})
	}
}
