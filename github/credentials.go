package github

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Secret keys of the GitHub App credentials, the same keys ARC's own
// githubConfigSecret uses.
//
//nolint:gosec // G101: these are key names, not credentials.
const (
	SecretKeyAppID      = "github_app_id"
	SecretKeyPrivateKey = "github_app_private_key"
)

// AppCredentials authenticate as a GitHub App.
type AppCredentials struct {
	// AppID is the numeric GitHub App ID.
	AppID int64
	// PrivateKey is the App's RSA private key in PEM.
	PrivateKey []byte
}

// CredentialsFromSecret reads the App ID and private key from a Secret.
// Errors name the Secret and the key but never include key material.
func CredentialsFromSecret(secret *corev1.Secret) (AppCredentials, error) {
	if secret == nil {
		return AppCredentials{}, fmt.Errorf("GitHub App Secret is missing")
	}
	name := secret.Namespace + "/" + secret.Name

	rawID, ok := secret.Data[SecretKeyAppID]
	if !ok || len(strings.TrimSpace(string(rawID))) == 0 {
		return AppCredentials{}, fmt.Errorf("secret %s has no %s: set it to the GitHub App's numeric ID", name, SecretKeyAppID)
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(rawID)), 10, 64)
	if err != nil || id <= 0 {
		return AppCredentials{}, fmt.Errorf("secret %s: %s %q is not a numeric GitHub App ID (client IDs are not supported); use the App ID from the App's settings page", name, SecretKeyAppID, strings.TrimSpace(string(rawID)))
	}

	key := secret.Data[SecretKeyPrivateKey]
	if len(key) == 0 {
		return AppCredentials{}, fmt.Errorf("secret %s has no %s: set it to the App's private key in PEM", name, SecretKeyPrivateKey)
	}
	if err := checkPrivateKey(key); err != nil {
		return AppCredentials{}, fmt.Errorf("secret %s: %s %w; generate a new key on the App's settings page", name, SecretKeyPrivateKey, err)
	}
	return AppCredentials{AppID: id, PrivateKey: key}, nil
}

// checkPrivateKey accepts a PKCS #1 or PKCS #8 RSA key in PEM. Its errors
// describe the problem without quoting the key.
func checkPrivateKey(key []byte) error {
	block, _ := pem.Decode(key)
	if block == nil {
		return fmt.Errorf("is not PEM")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return fmt.Errorf("is not an RSA private key (PEM block %q)", block.Type)
	}
	if _, ok := parsed.(*rsa.PrivateKey); !ok {
		return fmt.Errorf("is not an RSA private key (PEM block %q)", block.Type)
	}
	return nil
}
