package chart

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// selects reports whether every selector label is among labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for key, value := range selector {
		if labels[key] != value {
			return false
		}
	}
	return true
}

// nestedLabels returns a string map at fields, failing the test when it is
// not one.
func nestedLabels(t *testing.T, object *unstructured.Unstructured, fields ...string) map[string]string {
	t.Helper()
	labels, _, err := unstructured.NestedStringMap(object.Object, fields...)
	if err != nil {
		t.Fatalf("%s %s: %s: %v", object.GetKind(), object.GetName(), strings.Join(fields, "."), err)
	}
	return labels
}

// TestObjectsReferToEachOther renders the full example and checks the
// references that neither Helm nor the API server checks. These are the
// Service, NetworkPolicy, PodDisruptionBudget and ServiceMonitor
// selectors, the named ports, and the Service host and port that NOTES.txt
// prints for meshConfig.
func TestObjectsReferToEachOther(t *testing.T) {
	out := mustRender(t, loadChart(t), readValues(t, "full-values.yaml"))
	list := objects(t, out.Manifest)
	deployment := findKind(t, list, "Deployment")
	podLabels := nestedLabels(t, deployment, "spec", "template", "metadata", "labels")

	if selector := nestedLabels(t, deployment, "spec", "selector", "matchLabels"); !selects(selector, podLabels) {
		t.Errorf("the Deployment's selector %v does not select its own pods %v", selector, podLabels)
	}

	containerPorts := map[string]bool{}
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	ports, _, _ := unstructured.NestedSlice(containers[0].(map[string]any), "ports")
	for _, port := range ports {
		containerPorts[port.(map[string]any)["name"].(string)] = true
	}

	services := map[string]*unstructured.Unstructured{}
	for _, object := range list {
		if object.GetKind() != "Service" {
			continue
		}
		services[object.GetName()] = object
		if selector := nestedLabels(t, object, "spec", "selector"); !selects(selector, podLabels) {
			t.Errorf("Service %s selector %v does not select the controller pods", object.GetName(), selector)
		}
		servicePorts, _, _ := unstructured.NestedSlice(object.Object, "spec", "ports")
		for _, port := range servicePorts {
			target := fmt.Sprint(port.(map[string]any)["targetPort"])
			if !containerPorts[target] {
				t.Errorf("Service %s targets port %q, which the container does not name", object.GetName(), target)
			}
		}
	}
	for _, name := range []string{"lockdown-metrics", "lockdown-access-log", "lockdown-webhook"} {
		if services[name] == nil {
			t.Errorf("no Service %s", name)
		}
	}

	networkPolicy := findKind(t, list, "NetworkPolicy")
	if selector := nestedLabels(t, networkPolicy, "spec", "podSelector", "matchLabels"); !selects(selector, podLabels) {
		t.Errorf("the NetworkPolicy's podSelector %v does not select the controller pods", selector)
	}
	budget := findKind(t, list, "PodDisruptionBudget")
	if selector := nestedLabels(t, budget, "spec", "selector", "matchLabels"); !selects(selector, podLabels) {
		t.Errorf("the PodDisruptionBudget's selector %v does not select the controller pods", selector)
	}

	monitor := findKind(t, list, "ServiceMonitor")
	monitorSelector := nestedLabels(t, monitor, "spec", "selector", "matchLabels")
	for name, service := range services {
		selected := selects(monitorSelector, service.GetLabels())
		if want := name == "lockdown-metrics"; selected != want {
			t.Errorf("ServiceMonitor selects Service %s = %v, expected %v", name, selected, want)
		}
	}
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	if len(endpoints) != 1 || endpoints[0].(map[string]any)["port"] != "http-metrics" {
		t.Errorf("ServiceMonitor endpoints %v do not scrape the port http-metrics", endpoints)
	}

	for _, want := range []string{
		"service: lockdown-access-log.arc-lockdown-system.svc.corp.local\n        port: 9977",
		"- name: lockdown-http\n      envoyHttpAls:",
		"- name: lockdown-tcp\n      envoyTcpAls:",
	} {
		if !strings.Contains(out.Notes, want) {
			t.Errorf("NOTES.txt lacks %q", want)
		}
	}
	for _, object := range list {
		if object.GetKind() != "Telemetry" {
			continue
		}
		providers, _, _ := unstructured.NestedSlice(object.Object, "spec", "accessLogging")
		text := fmt.Sprint(providers)
		if !strings.Contains(text, "name:lockdown-http") || !strings.Contains(text, "name:lockdown-tcp") {
			t.Errorf("Telemetry %s/%s does not enable both providers: %s", object.GetNamespace(), object.GetName(), text)
		}
	}
}
