package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/limit"
)

// maxField bounds a form field (a comment, a reason, findings).
const maxField = 500

type loginData struct {
	ReturnTo string
	Username string
	OIDC     bool
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, http.StatusOK, "login", view{Title: "登录", Data: loginData{ReturnTo: authn.LocalPath(r.URL.Query().Get("return_to")),
		OIDC: c.kit.OIDC != nil}})
}

// login checks a username and password posted by the login form (the
// access kit's limits and lockouts apply) and sends the browser back where
// it came from, on this site only.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	user, pass := strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("password")
	back := authn.LocalPath(r.PostFormValue("return_to"))
	data := loginData{ReturnTo: back, Username: user, OIDC: c.kit.OIDC != nil}
	if user == "" || pass == "" || len(user) > 100 || len(pass) > 1000 {
		c.render(w, r, http.StatusBadRequest, "login", view{Title: "登录", Error: "请输入用户名和密码。", Data: data})
		return
	}
	src := access.SourceFromContext(r.Context())
	acc, err := c.kit.Auth.Login(r.Context(), user, pass, src)
	var le *limit.LockedError
	switch {
	case errors.As(err, &le):
		w.Header().Set("Retry-After", strconv.Itoa(int(le.Until.Sub(c.now())/time.Second)+1))
		c.render(w, r, http.StatusTooManyRequests, "login", view{Title: "登录", Error: "失败次数过多，已暂时锁定，请稍后再试。", Data: data})
		return
	case errors.Is(err, authn.ErrBadCredentials):
		c.render(w, r, http.StatusUnauthorized, "login", view{Title: "登录", Error: "用户名或密码错误。", Data: data})
		return
	case err != nil:
		c.unavailable(w, r, err)
		return
	}
	if err := c.kit.Auth.StartSession(r.Context(), w, acc, "password", src); err != nil {
		c.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	c.kit.Auth.Logout(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// shortLink opens an alert from its SMS link: a valid, current link
// sends the browser to the alert's page, which asks for a login first if
// needed. An invalid and an expired link get the same page.
func (c *Console) shortLink(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	l, err := c.links.Verify(r.PathValue("token"), c.now())
	if err != nil {
		c.m.refused.WithLabelValues("bad_link").Inc()
		c.message(w, r, nil, http.StatusNotFound, "链接无效或已过期", "请登录控制台查看告警，或使用短信中的确认码回复确认。")
		return
	}
	http.Redirect(w, r, "/f/"+l.Facility+"/alerts/"+l.Fingerprint, http.StatusSeeOther)
}
