package ghstandin

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

// maxJWTLifetime is the longest exp - iat GitHub accepts for an App JWT.
const maxJWTLifetime = 10 * time.Minute

// clockSkew is how far in the future GitHub tolerates an iat claim.
const clockSkew = 60 * time.Second

// installation is a GitHub App installation on an account.
type installation struct {
	id      int64
	account string
	created time.Time
}

// token is an installation access token the Server issued.
type token struct {
	installation *installation
	serial       int
	expires      time.Time
}

// AddInstallation installs the App on an organization and returns the
// installation ID. Tokens of the installation reach every repository the
// organization owns.
func (s *Server) AddInstallation(account string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	inst := &installation{id: s.nextID, account: account, created: s.now()}
	s.installs[strings.ToLower(account)] = inst
	return inst.id
}

// TokensIssued returns how many installation tokens the Server has issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// ExpireTokens makes every token issued so far expired, as if an hour had
// passed on GitHub's side while the client still believes them valid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expires = s.now().Add(-time.Second)
	}
}

// authenticate checks the Authorization header against what the endpoint
// requires. It returns the caller, the credential name for the request
// record and, when authentication fails, the 401 to send.
func (s *Server) authenticate(r *http.Request, kind authKind) (*caller, string, *response) {
	scheme, value, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	scheme = strings.ToLower(scheme)
	if value == "" {
		return nil, "none", newResponse().fail(http.StatusUnauthorized, "Requires authentication")
	}

	if kind == authApp {
		if scheme != "bearer" {
			return nil, "invalid", newResponse().fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
		}
		if msg := s.verifyJWT(value); msg != "" {
			return nil, "invalid", newResponse().fail(http.StatusUnauthorized, msg)
		}
		return &caller{app: true}, "app", nil
	}

	if scheme != "token" && scheme != "bearer" {
		return nil, "invalid", newResponse().fail(http.StatusUnauthorized, "Bad credentials")
	}
	s.mu.Lock()
	t := s.tokens[value]
	now := s.now()
	s.mu.Unlock()
	if t == nil || !now.Before(t.expires) {
		return nil, "invalid", newResponse().fail(http.StatusUnauthorized, "Bad credentials")
	}
	name := fmt.Sprintf("installation %d token %d", t.installation.id, t.serial)
	return &caller{installation: t.installation}, name, nil
}

// verifyJWT checks an App JWT the way GitHub does: RS256 signed by the App's
// key, iss the App ID, iat not in the future beyond clock skew, exp in the
// future and at most ten minutes after iat. It returns GitHub's message for
// the first failure, or "" when the JWT is valid.
func (s *Server) verifyJWT(raw string) string {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil })
	if err != nil {
		return "A JSON web token could not be decoded"
	}

	iss := fmt.Sprint(claims["iss"])
	if f, ok := claims["iss"].(float64); ok {
		iss = strconv.FormatInt(int64(f), 10)
	}
	if iss != strconv.FormatInt(s.appID, 10) {
		return "Integration not found"
	}

	iat, okIat := claims["iat"].(float64)
	exp, okExp := claims["exp"].(float64)
	if !okIat {
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	if !okExp {
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	}
	now := s.now()
	issued := time.Unix(int64(iat), 0)
	expires := time.Unix(int64(exp), 0)
	switch {
	case issued.After(now.Add(clockSkew)):
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	case !expires.After(now):
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	case expires.Sub(issued) > maxJWTLifetime:
		return "'Expiration time' claim ('exp') is too far in the future"
	}
	return ""
}

func (s *Server) createInstallationToken(r *http.Request, _ *caller) *response {
	id, err := strconv.ParseInt(r.PathValue("installation_id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	var inst *installation
	for _, candidate := range s.installs {
		if err == nil && candidate.id == id {
			inst = candidate
		}
	}
	if inst == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}

	buf := make([]byte, 20)
	_, _ = rand.Read(buf)
	t := &token{installation: inst, serial: len(s.tokens) + 1, expires: s.now().Add(s.tokenTTL).Truncate(time.Second)}
	value := "ghs_" + hex.EncodeToString(buf)
	s.tokens[value] = t
	return newResponse().json(http.StatusCreated, map[string]any{
		"token":                value,
		"expires_at":           t.expires.UTC().Format(time.RFC3339),
		"permissions":          appPermissions(),
		"repository_selection": "all",
	})
}

func (s *Server) getRepoInstallation(r *http.Request, _ *caller) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
	inst := s.installs[strings.ToLower(r.PathValue("owner"))]
	if repo == nil || inst == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	return newResponse().json(http.StatusOK, s.installationJSON(inst))
}

func (s *Server) getOrgInstallation(r *http.Request, _ *caller) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installs[strings.ToLower(r.PathValue("org"))]
	if inst == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	return newResponse().json(http.StatusOK, s.installationJSON(inst))
}

func appPermissions() map[string]any {
	return map[string]any{"contents": "read", "checks": "write", "actions": "read", "metadata": "read"}
}
