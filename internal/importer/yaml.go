package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file builds the YAML documents: yaml.Node trees, so that keys keep
// the backup's order and comments sit next to what they explain.

func newMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

// set appends key: v to the mapping m and returns the key node, which
// carries the comments written above the pair.
func set(m *yaml.Node, key string, v *yaml.Node) *yaml.Node {
	k := strNode(key)
	m.Content = append(m.Content, k, v)
	return k
}

func strNode(s string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(s)
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func intNode(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(i)}
}

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(b)}
}

func seqNode(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, s := range items {
		n.Content = append(n.Content, strNode(s))
	}
	return n
}

// flowSeq is a one-line sequence: [a, b].
func flowSeq(items ...string) *yaml.Node {
	n := seqNode(items...)
	n.Style = yaml.FlowStyle
	return n
}

// envRef is the secret reference {env: NAME}.
func envRef(name string) *yaml.Node {
	m := newMap()
	m.Style = yaml.FlowStyle
	set(m, "env", strNode(name))
	return m
}

// valueNode encodes a JSON-like value (from a json.Decoder with UseNumber).
func valueNode(v any) (*yaml.Node, error) {
	n := &yaml.Node{}
	if err := n.Encode(plain(v)); err != nil {
		return nil, err
	}
	return n, nil
}

// plain turns json.Number into int64 or float64, recursively.
func plain(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// comment turns lines into a YAML comment block ("# " before each line).
// Text from the backup is made safe first: invalid UTF-8 and every other
// character YAML could read as a line break or refuse become U+FFFD.
func comment(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		l = commentSafe(l)
		for _, s := range strings.Split(strings.TrimRight(l, "\n"), "\n") {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			if s == "" {
				b.WriteString("#")
			} else {
				b.WriteString("# " + s)
			}
		}
	}
	return b.String()
}

// addComment appends a comment block to a node's head comment.
func addComment(n *yaml.Node, lines ...string) {
	if len(lines) == 0 {
		return
	}
	c := comment(lines...)
	if n.HeadComment != "" {
		n.HeadComment += "\n" + c
	} else {
		n.HeadComment = c
	}
}

// yamlText renders v as YAML with its JSON field names, for keeping
// something in a comment.
func yamlText(v any) string {
	if j, err := json.Marshal(v); err == nil {
		var generic any
		if json.Unmarshal(j, &generic) == nil {
			v = dropEmpty(generic)
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	_ = enc.Close()
	return strings.TrimRight(b.String(), "\n")
}

// render writes one document with a head comment.
func render(head string, root *yaml.Node, foot string) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	doc.HeadComment = head
	doc.FootComment = foot
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// dropEmpty removes null, "", false, 0 and empty collections from maps,
// so that a commented-out object shows what it sets.
func dropEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			e = dropEmpty(e)
			switch x := e.(type) {
			case nil:
				continue
			case string:
				if x == "" {
					continue
				}
			case bool:
				if !x {
					continue
				}
			case float64:
				if x == 0 {
					continue
				}
			case map[string]any:
				if len(x) == 0 {
					continue
				}
			case []any:
				if len(x) == 0 {
					continue
				}
			}
			out[k] = e
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = dropEmpty(e)
		}
	}
	return v
}

// commentSafe replaces invalid UTF-8 and control characters other than
// newline and tab (including YAML's other line breaks: CR, NEL, LS, PS)
// with U+FFFD.
func commentSafe(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n', r == '\t':
			return r
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029, r == 0xfeff:
			return '\uFFFD'
		}
		return r
	}, s)
}
