package config

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yaml.v3 reports a syntax error as "yaml: line N: MESSAGE", where N is
// the line of the error's context (the collection being parsed) counted
// from 0 for parser errors and from 1 for scanner errors, or without a
// line at all on the first line, and never with a column. So the line is
// often one early and the column unknown. yamlErrorPos finds the real
// position: the first line at which the text, cut after that line, fails
// with the same message (the parser found its problem there), and on that
// line the column of what the message is about.

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// maxLocateBytes bounds the text parsed again to locate one error.
const maxLocateBytes = 8 << 20

// yamlError turns a yaml.v3 syntax error in data into a problem at its
// real position.
func yamlError(name string, data []byte, err error) *Error {
	msg := err.Error()
	reported := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		reported, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	line, col := yamlErrorPos(data, msg, reported)
	return &Error{Pos: Pos{File: name, Line: line, Col: col}, Msg: "malformed YAML: " + msg}
}

// yamlErrorPos returns the 1-based line and column of the syntax error
// msg in data; reported is the line yaml.v3 gave (0: none).
func yamlErrorPos(data []byte, msg string, reported int) (line, col int) {
	lines := bytes.SplitAfter(data, []byte{'\n'})
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return 1, 1
	}
	// The reported line (reported, or reported+1 for a parser error) is
	// at or before the problem: start there. But when the context is on
	// the first line, yaml.v3 reports the line of the problem instead
	// (an unclosed quote: the end of the text), so try the first line
	// alone before.
	line = max(1, min(reported, len(lines)))
	if line > 1 && failsWith(lines[0], msg) {
		return 1, errorColumn(string(bytes.TrimRight(lines[0], "\r\n")), msg)
	}
	found := false
	end := 0
	for _, l := range lines[:line-1] {
		end += len(l)
	}
	budget := maxLocateBytes
	for k := line; k <= len(lines); k++ {
		end += len(lines[k-1])
		if budget -= end; budget < 0 {
			break
		}
		if failsWith(data[:end], msg) {
			line, found = k, true
			break
		}
	}
	if !found {
		// Not located (a budget spent on a huge file): the context line,
		// as 1-based as yaml.v3 can tell.
		line = max(1, min(reported+1, len(lines)))
	}
	return line, errorColumn(string(bytes.TrimRight(lines[line-1], "\r\n")), msg)
}

// failsWith reports whether parsing text fails with the message msg.
func failsWith(text []byte, msg string) bool {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		s := err.Error()
		if m := yamlLine.FindStringSubmatch(s); m != nil {
			s = s[len(m[0]):]
		} else {
			s = strings.TrimPrefix(s, "yaml: ")
		}
		return s == msg
	}
}

// errorColumn is the 1-based column, on the line where yaml.v3 found the
// problem msg, of what msg is about; the first non-blank character when
// nothing more precise is known.
func errorColumn(text, msg string) int {
	first := strings.IndexFunc(text, func(r rune) bool { return r != ' ' && r != '\t' })
	if first < 0 {
		first = 0
	}
	at := -1
	switch {
	case strings.Contains(msg, "tab character"):
		at = strings.IndexByte(text, '\t')
	case strings.HasPrefix(msg, "mapping values are not allowed"):
		// The colon that cannot start a value here: the last ": " (or
		// a colon ending the line) outside quotes.
		at = lastMappingColon(text)
	case strings.HasPrefix(msg, "found character that cannot start any token"):
		at = tokenStart(text, "@`%")
	case strings.HasPrefix(msg, "did not find expected ',' or '}'"):
		at = lastUnclosed(text, '{', '}')
	case strings.HasPrefix(msg, "did not find expected ',' or ']'"):
		at = lastUnclosed(text, '[', ']')
	case strings.HasPrefix(msg, "did not find expected node content"):
		at = max(lastUnclosed(text, '{', '}'), lastUnclosed(text, '[', ']'))
	case strings.Contains(msg, "end of stream"), strings.Contains(msg, "quoted scalar"):
		at = tokenStart(text, `'"`)
	case strings.HasPrefix(msg, "unknown anchor '"):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		at = strings.Index(text, "*"+name)
	}
	if at < 0 {
		at = first
	}
	return 1 + len([]rune(text[:at]))
}

// lastMappingColon returns the byte offset of the last ':' followed by a
// space or the end of the line, outside quoted scalars and comments; -1
// when none.
func lastMappingColon(text string) int {
	last := -1
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || text[i-1] == ' '):
			return last
		case c == ':' && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\t'):
			last = i
		}
	}
	return last
}

// tokenStart returns the offset of the first character of chars that
// starts a token (at the line's start or after a space, ':', ',', '[',
// '{' or '-'), outside comments; -1 when none.
func tokenStart(text, chars string) int {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '#' && (i == 0 || text[i-1] == ' ') {
			return -1
		}
		if strings.IndexByte(chars, c) >= 0 && (i == 0 || strings.IndexByte(" \t:,[{-", text[i-1]) >= 0) {
			return i
		}
	}
	return -1
}

// lastUnclosed returns the offset of the last open bracket on the line
// that the line does not close; -1 when none.
func lastUnclosed(text string, open, closer byte) int {
	var stack []int
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == open:
			stack = append(stack, i)
		case c == closer && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) == 0 {
		return -1
	}
	return stack[len(stack)-1]
}
