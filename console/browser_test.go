package console

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cradlewatch/cradlewatch/internal/shortlink"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// chromium is Debian's package.
const chromium = "/usr/bin/chromium"

// browser starts headless Chromium for one test: as root it needs
// --no-sandbox; a fresh profile, a phone's window and no background
// traffic keep runs alike.
func browser(t *testing.T) context.Context {
	t.Helper()
	testenv.Integration(t)
	if _, err := os.Stat(chromium); err != nil {
		if testenv.Required() {
			t.Fatalf("chromium is required (%s=1): %v", testenv.EnvRequire, err)
		}
		t.Skipf("browser test: %s not installed (apt-get install chromium)", chromium)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(412, 915),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	// The first run starts the browser, which lives as long as its
	// context: no timeout on that one; the test's actions get one.
	if err := chromedp.Do(bctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// screenshot saves the page as an artefact under .cache/artifacts/console.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir, _ := filepath.Abs(filepath.Join("..", ".cache", "artifacts", "console"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The duty teacher taps the link in the SMS, logs in, acknowledges with a
// comment and sees the alert acknowledged.
func TestBrowserOperatorAcknowledgesFromTheSMSLink(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ctx := browser(t)
	tok, err := w.links.Sign(shortlink.Link{Facility: facA1, Fingerprint: fpA1, Expires: w.clock().Add(shortlink.DefaultTTL)})
	if err != nil {
		t.Fatal(err)
	}
	var loc, state, history string
	do(t, ctx,
		chromedp.Navigate(w.base+shortlink.Path(tok)),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	screenshot(t, ctx, "operator-1-login")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("username"), "op-a"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("ack")),
	)
	loc = value(t, ctx, chromedp.Location())
	if !strings.HasSuffix(loc, "/f/"+facA1+"/alerts/"+fpA1) {
		t.Fatalf("after login the browser is at %s, not the alert", loc)
	}
	screenshot(t, ctx, "operator-2-alert")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("comment"), "已开窗通风，值班老师在场"),
		chromedp.Click(chromedp.ID("ack")),
		chromedp.WaitVisible(chromedp.ID("done")),
	)
	state = value(t, ctx, chromedp.Text(chromedp.ID("state")))
	history = value(t, ctx, chromedp.Text(chromedp.ID("history")))
	screenshot(t, ctx, "operator-3-acknowledged")
	if strings.TrimSpace(state) != "已确认" || !strings.Contains(history, "已开窗通风") || !strings.Contains(history, "op-a") {
		t.Fatalf("state %q, history %q", state, history)
	}
	if acks := w.owner.commands("ack"); len(acks) != 1 || acks[0].Actor.Name != "op-a" {
		t.Fatalf("owner got %+v", acks)
	}
}

// A county regulator sees its county's facilities only, and another
// county's alert opened by URL looks exactly like one that does not exist.
func TestBrowserCountySeesOnlyItsCounty(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ctx := browser(t)
	var list, other, nothing string
	do(t, ctx,
		chromedp.Navigate(w.base+"/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "county-a"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("facilities")),
	)
	list = value(t, ctx, chromedp.Text(chromedp.ID("facilities")))
	screenshot(t, ctx, "county-1-overview")
	if !strings.Contains(list, facilityNames[facA1]) || !strings.Contains(list, facilityNames[facA2]) || strings.Contains(list, facilityNames[facB1]) {
		t.Fatalf("county A's overview: %q", list)
	}
	do(t, ctx,
		chromedp.Navigate(w.base+"/f/"+facB1+"/alerts/"+fpB1),
		chromedp.WaitVisible(chromedp.CSS("main")),
	)
	other = value(t, ctx, chromedp.OuterHTML(chromedp.CSS("main")))
	screenshot(t, ctx, "county-2-other-county-alert")
	do(t, ctx,
		chromedp.Navigate(w.base+"/f/110105009-9999/alerts/"+fpB1),
		chromedp.WaitVisible(chromedp.CSS("main")),
	)
	nothing = value(t, ctx, chromedp.OuterHTML(chromedp.CSS("main")))
	if other != nothing || strings.Contains(other, facilityNames[facB1]) || strings.Contains(other, "二氧化碳") {
		t.Fatalf("another county's alert differs from nothing:\n%s\n%s", other, nothing)
	}
}

// The public page of a facility, no login: its figures, no personal data.
func TestBrowserPublicPage(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ctx := browser(t)
	var text string
	do(t, ctx,
		chromedp.Navigate(w.base+"/public/f/"+facA1),
		chromedp.WaitVisible(chromedp.ID("months")),
	)
	text = value(t, ctx, chromedp.Text(chromedp.CSS("body")))
	screenshot(t, ctx, "public-facility")
	for _, want := range []string{facilityNames[facA1], "备案编号", "87.5%", "95.0%", "监测房间"} {
		if !strings.Contains(text, want) {
			t.Errorf("public page lacks %q", want)
		}
	}
	for _, never := range []string{operatorName, operatorPhone, "138", "+86", "值班", "园长"} {
		if strings.Contains(text, never) {
			t.Errorf("public page shows %q", never)
		}
	}
}
