package alerting

import (
	"strings"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/secret"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/ctlbus"
	"github.com/cradlewatch/cradlewatch/internal/shortlink"
)

// secrets are what an instance reads from its secret files: placeholders,
// short keys and files others may read are refused, naming the key.
type secrets struct {
	ctl    []byte            // ctl.secret_file: the control bus's HMAC key
	phones *audit.PhoneKeyer // access.phone_key_file: phone pseudonyms
	links  *notify.Links     // notify.links.key_file: the console's short links (nil without base_url)
}

func loadSecrets(cfg Config) (secrets, error) {
	var out secrets
	var err error
	if out.ctl, err = secret.Load("ctl.secret_file", cfg.Ctl.SecretFile, ""); err != nil {
		return out, err
	}
	if len(out.ctl) < ctlbus.MinSecret {
		return out, config.Errorf("ctl.secret_file", "%d bytes; the control bus needs at least %d (openssl rand -base64 48)", len(out.ctl), ctlbus.MinSecret)
	}
	key, err := secret.Load("access.phone_key_file", cfg.Access.PhoneKeyFile, "")
	if err != nil {
		return out, err
	}
	if out.phones, err = audit.NewPhoneKeyer(key); err != nil {
		return out, config.Errorf("access.phone_key_file", "%v", err)
	}
	if l := cfg.Notify.Links; l.BaseURL != "" {
		k, err := secret.Load("notify.links.key_file", l.KeyFile, "")
		if err != nil {
			return out, err
		}
		signer, err := shortlink.New(k)
		if err != nil {
			return out, config.Errorf("notify.links.key_file", "%v", err)
		}
		out.links = &notify.Links{Signer: signer, BaseURL: strings.TrimSuffix(l.BaseURL, "/"), TTL: l.TTL}
	}
	return out, nil
}

// knownPhones are the numbers this instance may send to: the registry's
// operators and the platform's contacts (the notification path adds its
// directory's). State keyed by the hashes of an earlier release is
// re-keyed for these at start.
func (s *Service) knownPhones() []string {
	var out []string
	for _, f := range s.reg.Snapshot().Facilities() {
		for _, op := range f.Operators {
			out = append(out, op.Phone)
		}
	}
	for _, c := range s.cfg.Platform.Contacts {
		out = append(out, c.Phone)
	}
	return out
}
