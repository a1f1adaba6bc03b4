package forge

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	secret := []byte("It's a Secret to Everybody")
	body := []byte("Hello, World!")
	// The example of GitHub's documentation ("Validating webhook deliveries").
	const ghDoc = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name   string
		forge  Type
		secret []byte
		h      http.Header
		want   error
	}{
		{"github documented example", GitHub, secret, hdr("X-Hub-Signature-256", ghDoc), nil},
		{"github wrong secret", GitHub, []byte("other"), hdr("X-Hub-Signature-256", ghDoc), ErrBadSignature},
		{"github no prefix", GitHub, secret, hdr("X-Hub-Signature-256", strings.TrimPrefix(ghDoc, "sha256=")), ErrBadSignature},
		{"github sha1 only", GitHub, secret, hdr("X-Hub-Signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"), ErrSHA1Refused},
		{"github none", GitHub, secret, hdr(), ErrNoSignature},
		{"github not hex", GitHub, secret, hdr("X-Hub-Signature-256", "sha256=zz"), ErrBadSignature},
		{"github truncated", GitHub, secret, hdr("X-Hub-Signature-256", ghDoc[:40]), ErrBadSignature},
		{"empty secret", GitHub, nil, hdr("X-Hub-Signature-256", "sha256="+Sign(nil, body)), ErrBadSignature},
		{"gitlab token", GitLab, secret, hdr("X-Gitlab-Token", string(secret)), nil},
		{"gitlab wrong token", GitLab, secret, hdr("X-Gitlab-Token", "It's a Secret to Everybody!"), ErrBadSignature},
		{"gitlab prefix of token", GitLab, secret, hdr("X-Gitlab-Token", "It's"), ErrBadSignature},
		{"gitlab none", GitLab, secret, hdr(), ErrNoSignature},
		{"gitea hex", Gitea, secret, hdr("X-Gitea-Signature", strings.TrimPrefix(ghDoc, "sha256=")), nil},
		{"gitea github header", Gitea, secret, hdr("X-Hub-Signature-256", ghDoc), nil},
		{"gitea wrong", Gitea, secret, hdr("X-Gitea-Signature", Sign([]byte("x"), body)), ErrBadSignature},
		{"gitea none", Gitea, secret, hdr(), ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.forge, tt.secret, tt.h, body)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), string(secret)) {
				t.Errorf("error %q carries the secret", err)
			}
		})
	}
}

func TestEqualSecret(t *testing.T) {
	if !EqualSecret([]byte("abc"), []byte("abc")) || EqualSecret([]byte("abc"), []byte("abd")) || EqualSecret(nil, nil) {
		t.Error("EqualSecret is wrong")
	}
}

func BenchmarkVerifyGitHub(b *testing.B) {
	body := fixture(b, "shared:github/pull_request_opened.payload.json")
	secret := []byte("s3cret")
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256="+Sign(secret, body))
	for b.Loop() {
		if err := Verify(GitHub, secret, h, body); err != nil {
			b.Fatal(err)
		}
	}
}
