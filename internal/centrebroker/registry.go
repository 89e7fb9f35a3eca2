package centrebroker

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// Facility is what the broker needs of a facility file: its ID and the
// gateways registered to it.
type Facility struct {
	ID       string
	Gateways []string
	File     string
}

// facilityFile is the part of a facility file read here. Other keys are
// ignored: the registry's own loader checks them.
type facilityFile struct {
	Facility struct {
		ID       string       `yaml:"id"`
		Gateways []gatewayRef `yaml:"gateways"`
	} `yaml:"facility"`
	Gateways []gatewayRef `yaml:"gateways"`
}

// gatewayRef is a gateway of the gateways: list, written as its ID or as a
// mapping with an id key.
type gatewayRef string

func (g *gatewayRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*g = gatewayRef(n.Value)
		return nil
	}
	var m struct {
		ID string `yaml:"id"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	*g = gatewayRef(m.ID)
	return nil
}

// LoadFacilities reads the facility ID and gateways of every *.yaml and
// *.yml file of dir (sub-folders are skipped, as the registry loader
// does). Two files with one facility ID, or one gateway ID in two places,
// are errors naming both files.
func LoadFacilities(dir string) ([]Facility, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("facility registry %s: %w", dir, err)
	}
	var out []Facility
	facilityFiles := map[string]string{}
	gatewayFiles := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := loadFacility(path)
		if err != nil {
			return nil, err
		}
		if other, ok := facilityFiles[f.ID]; ok {
			return nil, &config.Error{File: path, Key: "facility.id", Reason: fmt.Sprintf("%q is also the id in %s", f.ID, other)}
		}
		facilityFiles[f.ID] = path
		for _, g := range f.Gateways {
			if other, ok := gatewayFiles[g]; ok {
				return nil, &config.Error{File: path, Key: "gateways", Reason: fmt.Sprintf("gateway %q is also listed in %s: a gateway ID is one broker account and belongs to one facility", g, other)}
			}
			gatewayFiles[g] = path
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func loadFacility(path string) (Facility, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Facility{}, &config.Error{File: path, Reason: err.Error()}
	}
	var ff facilityFile
	if err := yaml.Unmarshal(data, &ff); err != nil {
		return Facility{}, &config.Error{File: path, Reason: err.Error()}
	}
	f := Facility{ID: ff.Facility.ID, File: path}
	if err := model.ValidateID("facility id", f.ID); err != nil {
		return Facility{}, &config.Error{File: path, Key: "facility.id", Reason: err.Error()}
	}
	key := "gateways"
	refs := ff.Gateways
	if len(refs) == 0 {
		key, refs = "facility.gateways", ff.Facility.Gateways
	}
	seen := map[string]bool{}
	for i, r := range refs {
		g := string(r)
		k := fmt.Sprintf("%s[%d]", key, i)
		if err := model.ValidateID("gateway id", g); err != nil {
			return Facility{}, &config.Error{File: path, Key: k, Reason: err.Error()}
		}
		if reason := reservedName(g); reason != "" {
			return Facility{}, &config.Error{File: path, Key: k, Reason: reason}
		}
		if seen[g] {
			return Facility{}, &config.Error{File: path, Key: k, Reason: fmt.Sprintf("gateway %q is listed twice", g)}
		}
		seen[g] = true
		f.Gateways = append(f.Gateways, g)
	}
	return f, nil
}
