package controllers

import (
	"encoding/json"
	"testing"
)

func TestContainsFields(t *testing.T) {
	tests := []struct {
		name          string
		live, desired string
		want          bool
	}{
		{"equal objects", `{"a":1,"b":{"c":"x"}}`, `{"a":1,"b":{"c":"x"}}`, true},
		{"defaulted field in live", `{"a":1,"protocol":"TCP"}`, `{"a":1}`, true},
		{"changed value", `{"a":2}`, `{"a":1}`, false},
		{"missing field", `{}`, `{"a":1}`, false},
		{"zero value absent in live", `{"a":1}`, `{"a":1,"b":0,"c":"","d":null,"e":[],"f":{}}`, true},
		{"list with extra element", `{"l":[1,2,3]}`, `{"l":[1,2]}`, false},
		{"list element subset", `{"l":[{"x":1,"y":2}]}`, `{"l":[{"x":1}]}`, true},
		{"list element changed", `{"l":[{"x":2}]}`, `{"l":[{"x":1}]}`, false},
		{"annotation hash differs", `{"metadata":{"annotations":{"h":"1"}}}`, `{"metadata":{"annotations":{"h":"2"}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var live, desired any
			if err := json.Unmarshal([]byte(tt.live), &live); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.desired), &desired); err != nil {
				t.Fatal(err)
			}
			if got := containsFields(live, desired); got != tt.want {
				t.Errorf("containsFields(%s, %s) = %v, want %v", tt.live, tt.desired, got, tt.want)
			}
		})
	}
}

func TestContentHashIsStable(t *testing.T) {
	a, err := contentHash(map[string]any{"x": 1, "y": map[string]any{"b": 2, "a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := contentHash(map[string]any{"y": map[string]any{"a": 1, "b": 2}, "x": 1})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("hash depends on map order: %s != %s", a, b)
	}
	c, err := contentHash(map[string]any{"x": 2})
	if err != nil {
		t.Fatal(err)
	}
	if a == c {
		t.Errorf("different content has the same hash %s", a)
	}
}
