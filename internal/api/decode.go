package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"
)

// Limits of a request body.
const (
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes = 256 << 10
	// MaxVarsBytes is the largest vars object of a task request, measured
	// as compact JSON (413 beyond). Vars are stored with the task and
	// written to the job's files, so they stay small.
	MaxVarsBytes = 64 << 10
)

// checkContentType answers 415 when r carries a body that is not
// declared as JSON. A request without a body needs no Content-Type.
func checkContentType(r *http.Request) error {
	if !hasBody(r) {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		if ct == "" {
			return errorf(http.StatusUnsupportedMediaType, "missing Content-Type: want application/json")
		}
		return errorf(http.StatusUnsupportedMediaType, "Content-Type %q: want application/json", ct)
	}
	return nil
}

// hasBody reports whether r announces a body (a Content-Length above
// zero, or a chunked one of unknown length).
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// decodeBody reads a JSON body of at most MaxBodyBytes and decodes it
// into v, strictly: a Content-Type other than application/json is 415, a
// larger body 413, invalid UTF-8, unknown fields, a second value or any
// other malformed JSON 400. An empty body leaves v as it is.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", mbe.Limit)
	case err != nil:
		return errorf(http.StatusBadRequest, "read body: %v", err)
	}
	return decodeJSON(b, v)
}

// decodeJSON decodes b into v as decodeBody does, without the transport
// checks. It is the part of the request decoding the fuzz target covers.
func decodeJSON(b []byte, v any) error {
	if !utf8.Valid(b) {
		return errorf(http.StatusBadRequest, "bad JSON body: not valid UTF-8")
	}
	if !pairedSurrogates(b) {
		return errorf(http.StatusBadRequest, "bad JSON body: a \\u escape is half of a UTF-16 surrogate pair")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "bad JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "bad JSON body: trailing data after the JSON object")
	}
	return nil
}

// checkVarsSize answers 413 when vars take more than MaxVarsBytes as
// compact JSON.
func checkVarsSize(vars map[string]any) error {
	if len(vars) == 0 {
		return nil
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return errorf(http.StatusBadRequest, "bad vars: %v", err)
	}
	if len(b) > MaxVarsBytes {
		return errorf(http.StatusRequestEntityTooLarge, "vars take %d bytes of JSON; at most %d are accepted", len(b), MaxVarsBytes)
	}
	return nil
}

// pairedSurrogates reports whether every \u escape of a UTF-16 surrogate
// in b is a high surrogate followed by a low one: encoding/json would
// replace a lone half with U+FFFD instead of refusing it. A backslash
// only occurs inside strings in valid JSON; what is not valid JSON is
// refused by the decoder anyway.
func pairedSurrogates(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 < len(b) && b[i+1] != 'u' {
			i++ // an escaped character, possibly a backslash
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			continue // malformed: the decoder says so
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false // a low half first
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return false
			}
			lo, ok := hex4(b, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

// hex4 parses the four hex digits of b at i.
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
