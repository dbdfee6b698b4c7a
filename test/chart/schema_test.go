package chart

import (
	"strings"
	"testing"
)

// TestSchemaRejectsBadValues renders the chart with one bad value at a time
// and expects values.schema.json to reject it with a message that names the
// value's path and the broken rule.
func TestSchemaRejectsBadValues(t *testing.T) {
	ch := loadChart(t)
	cases := []struct {
		name   string
		values string
		// want lists substrings the error must contain.
		want []string
	}{
		{
			name:   "misspelled top-level key",
			values: "replicas: 2",
			want:   []string{"at '': additional properties 'replicas' not allowed"},
		},
		{
			name:   "misspelled nested key",
			values: "image: {tagg: v1}",
			want:   []string{"at '/image': additional properties 'tagg' not allowed"},
		},
		{
			name:   "unknown pull policy",
			values: "image: {pullPolicy: Sometimes}",
			want:   []string{"at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"},
		},
		{
			name:   "image tag with a space",
			values: "image: {tag: 'v1 beta'}",
			want:   []string{"at '/image/tag':", "does not match pattern"},
		},
		{
			name:   "zero replicas",
			values: "replicaCount: 0",
			want:   []string{"at '/replicaCount': minimum: got 0, want 1"},
		},
		{
			name:   "replica count as text",
			values: "replicaCount: two",
			want:   []string{"at '/replicaCount': got string, want integer"},
		},
		{
			name:   "resync period without a unit",
			values: "controller: {resyncPeriod: '300'}",
			want:   []string{"at '/controller/resyncPeriod': '300' does not match pattern"},
		},
		{
			name:   "extra argument without dashes",
			values: "controller: {extraArgs: [leader-elect]}",
			want:   []string{"at '/controller/extraArgs/0': 'leader-elect' does not match pattern '^--'"},
		},
		{
			name:   "no GitHub App credentials at all",
			values: "githubApp: {existingSecret: ''}",
			want:   []string{"at '/githubApp/appId'", "at '/githubApp/privateKey': minLength: got 0, want 1"},
		},
		{
			name:   "existing secret and an app ID together",
			values: "githubApp: {appId: 42}",
			want:   []string{"at '/githubApp/appId': value must be ''"},
		},
		{
			name:   "non-numeric app ID",
			values: "githubApp: {existingSecret: '', appId: my-app, privateKey: key}",
			want:   []string{"at '/githubApp/appId': 'my-app' does not match pattern '^[1-9][0-9]*$'"},
		},
		{
			name:   "existing secret name with capitals",
			values: "githubApp: {existingSecret: GitHubApp}",
			want:   []string{"at '/githubApp/existingSecret'", "'GitHubApp' does not match pattern"},
		},
		{
			name:   "no webhook secret at all",
			values: "webhook: {existingSecret: ''}",
			want:   []string{"at '/webhook/secret': minLength: got 0, want 1"},
		},
		{
			name:   "webhook port out of range",
			values: "webhook: {service: {port: 70000}}",
			want:   []string{"at '/webhook/service/port': maximum: got 70,000, want 65,535"},
		},
		{
			name:   "unknown webhook service type",
			values: "webhook: {service: {type: ExternalName}}",
			want:   []string{"at '/webhook/service/type': value must be one of 'ClusterIP', 'NodePort', 'LoadBalancer'"},
		},
		{
			name:   "fractional scrape interval",
			values: "metrics: {serviceMonitor: {interval: 1.5m}}",
			want:   []string{"at '/metrics/serviceMonitor/interval': '1.5m' does not match pattern"},
		},
		{
			name:   "service account not created and not named",
			values: "serviceAccount: {create: false}",
			want:   []string{"at '/serviceAccount/name': minLength: got 0, want 1"},
		},
		{
			name:   "budget as a plain number string",
			values: "podDisruptionBudget: {enabled: true, minAvailable: '1'}",
			want:   []string{"at '/podDisruptionBudget/minAvailable': '1' does not match pattern '^[0-9]+%$'"},
		},
		{
			name:   "API server range without a prefix length",
			values: "cluster: {apiServer: {cidrs: [10.0.0.1]}}",
			want:   []string{"at '/cluster/apiServer/cidrs/0': '10.0.0.1' does not match pattern"},
		},
		{
			name:   "negative DNS port",
			values: "cluster: {dns: {extraPort: -1}}",
			want:   []string{"at '/cluster/dns/extraPort': minimum: got -1, want 0"},
		},
		{
			name:   "egress gateway label removed",
			values: "mesh: {egressGateway: {labels: {istio: null}}}",
			want:   []string{"at '/mesh/egressGateway/labels': minProperties: got 0, want 1"},
		},
		{
			name:   "runner namespace with an underscore",
			values: "telemetry: {runners: {namespaces: [arc_runners]}}",
			want:   []string{"at '/telemetry/runners/namespaces/0': 'arc_runners' does not match pattern"},
		},
		{
			name:   "unknown policy mode",
			values: "egressPolicy: {mode: {default: block}}",
			want:   []string{"at '/egressPolicy/mode/default': value must be one of 'enforce', 'audit'"},
		},
		{
			name:   "bare wildcard in the deny list",
			values: "egressPolicy: {deny: ['*']}",
			want:   []string{"at '/egressPolicy/deny/0': '*' does not match pattern"},
		},
		{
			name:   "baseline host with an upper-case letter",
			values: "egressPolicy: {baseline: [{host: GitHub.com}]}",
			want:   []string{"at '/egressPolicy/baseline/0/host': 'GitHub.com' does not match pattern"},
		},
		{
			name:   "baseline protocol in lower case",
			values: "egressPolicy: {baseline: [{host: github.com, protocol: tls}]}",
			want:   []string{"at '/egressPolicy/baseline/0/protocol': value must be one of 'TLS', 'HTTP'"},
		},
		{
			name:   "catalog entry without destinations",
			values: "egressPolicy: {catalog: [{name: npm-mirror}]}",
			want:   []string{"at '/egressPolicy/catalog/0': missing property 'destinations'"},
		},
		{
			name:   "catalog name with capitals",
			values: "egressPolicy: {catalog: [{name: NpmMirror, destinations: [{host: npm.corp.example.com}]}]}",
			want:   []string{"at '/egressPolicy/catalog/0/name': 'NpmMirror' does not match pattern"},
		},
		{
			name:   "selector operator misspelled",
			values: "egressPolicy: {scaleSetSelector: {matchExpressions: [{key: team, operator: Equals}]}}",
			want:   []string{"at '/egressPolicy/scaleSetSelector/matchExpressions/0/operator': value must be one of 'In', 'NotIn', 'Exists', 'DoesNotExist'"},
		},
		{
			name:   "network policy peer with an unknown field",
			values: "networkPolicy: {ingress: {webhookFrom: [{namespace: ingress-nginx}]}}",
			want:   []string{"at '/networkPolicy/ingress/webhookFrom/0': additional properties 'namespace' not allowed"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(ch, parseValues(t, tc.values))
			if err == nil {
				t.Fatalf("values %q rendered without an error", tc.values)
			}
			message := err.Error()
			if !strings.Contains(message, "values don't meet the specifications of the schema(s)") {
				t.Errorf("error does not come from the values schema: %v", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(message, want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestSchemaSecretValuesStayOutOfErrors checks that a rejected GitHub App
// key or webhook secret is never echoed in the schema's error message.
func TestSchemaSecretValuesStayOutOfErrors(t *testing.T) {
	ch := loadChart(t)
	const secret = "s3cr3t-value-that-must-not-leak"
	values := parseValues(t, "githubApp: {privateKey: "+secret+"}\nwebhook: {secret: "+secret+"}")

	_, err := render(ch, values)

	if err == nil {
		t.Fatal("an existing secret together with a key value rendered without an error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error message contains the secret value:\n%v", err)
	}
}
