package lockdown

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// WriteYAML writes the rendered objects as a stream of YAML documents, each
// introduced by "---", like `helm template`. Warnings come first as
// comments. Empty creationTimestamp and status fields are left out, since
// the API server fills them.
func WriteYAML(w io.Writer, r Rendered) error {
	if _, err := fmt.Fprintf(w, "# container mode: %s\n", r.ContainerMode); err != nil {
		return err
	}
	for _, warning := range r.Warnings {
		if _, err := fmt.Fprintf(w, "# warning %s: %s\n", warning.Reason, warning.Message); err != nil {
			return err
		}
	}
	for _, obj := range r.Objects {
		data, err := objectYAML(obj)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

// objectYAML encodes one object through JSON, so that Istio's protobuf
// specs use their own JSON encoding, and drops server-filled empty fields.
func objectYAML(obj Object) ([]byte, error) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	var content map[string]any
	if err := json.Unmarshal(data, &content); err != nil {
		return nil, fmt.Errorf("decode %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	if meta, ok := content["metadata"].(map[string]any); ok && meta["creationTimestamp"] == nil {
		delete(meta, "creationTimestamp")
	}
	if status, ok := content["status"].(map[string]any); ok && len(status) == 0 {
		delete(content, "status")
	}
	out, err := yaml.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s/%s as YAML: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return out, nil
}
