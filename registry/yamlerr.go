package registry

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

var (
	lineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// yamlError turns the YAML decoder's first complaint into a config.Error
// naming the key at its line (devices[2].interval), so the installer need
// not count lines.
func yamlError(name string, root *yaml.Node, err error) *config.Error {
	msg := cleanYAMLError(err.Error())
	first, _, _ := strings.Cut(msg, "; ")
	m := lineRE.FindStringSubmatch(first)
	if m == nil {
		return &config.Error{File: name, Reason: msg}
	}
	line, _ := strconv.Atoi(m[1])
	reason := m[2]
	if u := unknownRE.FindStringSubmatch(reason); u != nil {
		reason = fmt.Sprintf("unknown key %q", u[1])
	}
	key := keyAtLine(root, line, m[2])
	if key == "" {
		key = "line " + m[1]
	} else {
		reason = fmt.Sprintf("line %s: %s", m[1], reason)
	}
	return &config.Error{File: name, Key: key, Reason: reason}
}

func cleanYAMLError(s string) string {
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	s = strings.TrimPrefix(s, "yaml: ")
	parts := strings.Split(s, "\n")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return strings.Join(parts, "; ")
}

// keyAtLine is the dotted path of the mapping key or sequence item on
// line that the decoder's message is about: on a line with several (a flow
// mapping, {id: a, interval: soon}) the one whose name or value the message
// quotes, else the deepest. "" when no key is on the line.
func keyAtLine(n *yaml.Node, line int, msg string) string {
	type cand struct {
		path, name, value string
		kind              yaml.Kind
	}
	var cands []cand
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if k.Line == line {
					cands = append(cands, cand{p, k.Value, v.Value, v.Kind})
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Line == line && c.Kind == yaml.ScalarNode {
					cands = append(cands, cand{p, "", c.Value, c.Kind})
				}
				walk(c, p)
			}
		}
	}
	walk(n, "")
	for _, c := range cands {
		quoted := func(s string) bool {
			return s != "" && (strings.Contains(msg, "`"+s+"`") || strings.Contains(msg, strconv.Quote(s)))
		}
		named := c.name != "" && strings.Contains(msg, "field "+c.name+" not found")
		collection := (c.kind == yaml.SequenceNode && strings.Contains(msg, "!!seq")) ||
			(c.kind == yaml.MappingNode && strings.Contains(msg, "!!map"))
		if named || quoted(c.value) || collection {
			return c.path
		}
	}
	if len(cands) == 0 {
		return ""
	}
	return cands[len(cands)-1].path
}
