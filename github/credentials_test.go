package github

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testKeys(t *testing.T) (pkcs1, pkcs8, ec []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err = x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ec = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return pkcs1, pkcs8, ec
}

func secret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "arc-systems", Name: "github-app"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestCredentialsFromSecret(t *testing.T) {
	pkcs1, pkcs8, _ := testKeys(t)
	for name, key := range map[string][]byte{"pkcs1": pkcs1, "pkcs8": pkcs8} {
		t.Run(name, func(t *testing.T) {
			creds, err := CredentialsFromSecret(secret(map[string]string{"github_app_id": " 12345\n", "github_app_private_key": string(key)}))
			if err != nil {
				t.Fatalf("CredentialsFromSecret: %v", err)
			}
			if creds.AppID != 12345 {
				t.Errorf("AppID = %d, want 12345", creds.AppID)
			}
			if string(creds.PrivateKey) != string(key) {
				t.Errorf("PrivateKey differs from the Secret's")
			}
		})
	}
}

func TestCredentialsFromSecretRejects(t *testing.T) {
	pkcs1, _, ec := testKeys(t)
	// A PEM block whose body is not a key: its bytes must not leak either.
	garbage := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("secret-material-that-must-not-leak")})
	cases := []struct {
		name string
		data map[string]string
		want string
	}{
		{"missing app id", map[string]string{"github_app_private_key": string(pkcs1)}, "has no github_app_id"},
		{"client id", map[string]string{"github_app_id": "Iv1.abc", "github_app_private_key": string(pkcs1)}, `"Iv1.abc" is not a numeric GitHub App ID`},
		{"missing key", map[string]string{"github_app_id": "1"}, "has no github_app_private_key"},
		{"key not PEM", map[string]string{"github_app_id": "1", "github_app_private_key": "secret-material-that-must-not-leak"}, "is not PEM"},
		{"key not RSA", map[string]string{"github_app_id": "1", "github_app_private_key": string(ec)}, "is not an RSA private key"},
		{"key garbage", map[string]string{"github_app_id": "1", "github_app_private_key": string(garbage)}, "is not an RSA private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CredentialsFromSecret(secret(tc.data))
			if err == nil {
				t.Fatal("CredentialsFromSecret succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			if !strings.Contains(msg, "arc-systems/github-app") {
				t.Errorf("error %q does not name the Secret", msg)
			}
			if strings.Contains(msg, "secret-material") || strings.Contains(msg, "BEGIN") {
				t.Errorf("error %q contains key material", msg)
			}
		})
	}
}
