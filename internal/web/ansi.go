package web

import (
	"html"
	"strconv"
	"strings"
)

// sgr is the text style set by ANSI SGR sequences.
type sgr struct {
	fg, bg          int // 0: default; 30-37, 90-97 / 40-47, 100-107; -1..: 256-colour as 1000+n
	bold, dim, ital bool
	under           bool
}

func (s sgr) zero() bool { return s == sgr{} }

// class is the CSS classes of s: f31 (fg red), b42, c208 (256-colour fg), bold...
func (s sgr) class() string {
	var c []string
	if s.fg >= 1000 {
		c = append(c, "c"+strconv.Itoa(s.fg-1000))
	} else if s.fg != 0 {
		c = append(c, "f"+strconv.Itoa(s.fg))
	}
	if s.bg >= 1000 {
		c = append(c, "d"+strconv.Itoa(s.bg-1000))
	} else if s.bg != 0 {
		c = append(c, "b"+strconv.Itoa(s.bg))
	}
	if s.bold {
		c = append(c, "bo")
	}
	if s.dim {
		c = append(c, "di")
	}
	if s.ital {
		c = append(c, "it")
	}
	if s.under {
		c = append(c, "un")
	}
	return strings.Join(c, " ")
}

// apply changes s by the parameters of one SGR sequence ("0;31", "38;5;208").
func (s *sgr) apply(params string) {
	if params == "" {
		*s = sgr{}
		return
	}
	ps := strings.Split(params, ";")
	for i := 0; i < len(ps); i++ {
		n, err := strconv.Atoi(ps[i])
		if err != nil {
			continue
		}
		switch {
		case n == 0:
			*s = sgr{}
		case n == 1:
			s.bold = true
		case n == 2:
			s.dim = true
		case n == 3:
			s.ital = true
		case n == 4:
			s.under = true
		case n == 22:
			s.bold, s.dim = false, false
		case n == 23:
			s.ital = false
		case n == 24:
			s.under = false
		case n >= 30 && n <= 37, n >= 90 && n <= 97:
			s.fg = n
		case n == 39:
			s.fg = 0
		case n >= 40 && n <= 47, n >= 100 && n <= 107:
			s.bg = n
		case n == 49:
			s.bg = 0
		case (n == 38 || n == 48) && i+2 < len(ps) && ps[i+1] == "5":
			c, err := strconv.Atoi(ps[i+2])
			if err == nil && c >= 0 && c <= 255 {
				if n == 38 {
					s.fg = 1000 + c
				} else {
					s.bg = 1000 + c
				}
			}
			i += 2
		case (n == 38 || n == 48) && i+4 < len(ps) && ps[i+1] == "2":
			i += 4 // truecolour: not rendered
		}
	}
}

// ANSIToHTML renders one log line with its ANSI colours as HTML spans
// (classes defined in the page's CSS). Other escape sequences are dropped;
// the text is escaped. The style does not carry over to the next line.
func ANSIToHTML(line string) string {
	if !strings.Contains(line, "\x1b") {
		return html.EscapeString(line)
	}
	var b strings.Builder
	var cur, shown sgr // the style in force, and the one of the open span
	open := false
	text := func(t string) {
		if t == "" {
			return
		}
		if open && shown != cur {
			b.WriteString("</span>")
			open = false
		}
		if !open && !cur.zero() {
			b.WriteString(`<span class="` + cur.class() + `">`)
			open, shown = true, cur
		}
		b.WriteString(html.EscapeString(t))
	}
	for {
		i := strings.IndexByte(line, 0x1b)
		if i < 0 {
			text(line)
			break
		}
		text(line[:i])
		line = line[i+1:]
		if !strings.HasPrefix(line, "[") {
			// A two-byte escape (ESC c, ESC =): drop it.
			if line != "" {
				line = line[1:]
			}
			continue
		}
		// CSI: parameters, intermediates, final byte.
		j := 1
		for j < len(line) && line[j] >= 0x30 && line[j] <= 0x3f {
			j++
		}
		for j < len(line) && line[j] >= 0x20 && line[j] <= 0x2f {
			j++
		}
		if j >= len(line) {
			break // truncated sequence at the end
		}
		final, params := line[j], line[1:j]
		line = line[j+1:]
		if final != 'm' {
			continue
		}
		cur.apply(params)
	}
	if open {
		b.WriteString("</span>")
	}
	return b.String()
}
