package influxproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// Resolver maps a Grafana login to the region its owner may read. The
// proxy asks it on every request, so an implementation answers from
// memory or a cache. An unknown login is ErrUnknownUser; any other error
// is refused the same way and logged.
type Resolver interface {
	Region(ctx context.Context, login string) (model.RegionCode, error)
}

// ErrUnknownUser is a login that maps to no region.
var ErrUnknownUser = errors.New("unknown user")

// Nationwide is how the users file writes the whole country.
const Nationwide = "country"

// UsersFile is a Resolver read from YAML, until the access database takes
// over:
//
//	users:
//	  chaoyang-wjw: "110105"       # a county health commission
//	  jianwai-street: "110105001"  # a street office
//	  beijing-wjw: "110000"        # a province
//	  platform-admin: country      # everything
//
// Logins compare case-insensitively, as Grafana's do. Edit the file and
// restart the proxy to change it.
type UsersFile struct {
	users map[string]model.RegionCode
}

// LoadUsersFile reads and checks path; errors are *config.Error naming
// the file and the login.
func LoadUsersFile(path string) (*UsersFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{File: path, Reason: fmt.Sprintf("cannot read: %v", err)}
	}
	var doc struct {
		Users map[string]string `yaml:"users"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, &config.Error{File: path, Reason: err.Error()}
	}
	f := &UsersFile{users: map[string]model.RegionCode{}}
	logins := make([]string, 0, len(doc.Users))
	for l := range doc.Users {
		logins = append(logins, l)
	}
	sort.Strings(logins)
	for _, login := range logins {
		key := "users." + login
		code := doc.Users[login]
		if strings.TrimSpace(login) == "" {
			return nil, &config.Error{File: path, Key: "users", Reason: "empty login"}
		}
		var rc model.RegionCode
		if code == Nationwide {
			rc = model.Nationwide()
		} else if rc, err = model.ParseRegionCode(code); err != nil {
			return nil, &config.Error{File: path, Key: key, Reason: err.Error() + ` (or "country" for the whole country)`}
		}
		low := strings.ToLower(login)
		if _, dup := f.users[low]; dup {
			return nil, &config.Error{File: path, Key: key, Reason: "login listed twice (logins compare case-insensitively)"}
		}
		f.users[low] = rc
	}
	return f, nil
}

// Region implements Resolver.
func (f *UsersFile) Region(_ context.Context, login string) (model.RegionCode, error) {
	if rc, ok := f.users[strings.ToLower(login)]; ok {
		return rc, nil
	}
	return model.RegionCode{}, ErrUnknownUser
}

// Len is the number of logins.
func (f *UsersFile) Len() int { return len(f.users) }
