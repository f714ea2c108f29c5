package bot

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"
)

//go:embed templates/status.html
var statusHTML string

// statusPage is the status page's template.
var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"stamp": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"seconds": func(s float64) string {
		return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}).Parse(statusHTML))

// ContentSecurityPolicy is the policy the status page is served with: no
// script at all, no request anywhere, the one style sheet in the page
// allowed by its hash (so no inline style attribute or other sheet
// applies), and no framing.
var ContentSecurityPolicy = "default-src 'none'; style-src '" + styleHash(statusHTML) + "'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// styleHash is the CSP source of the template's <style> element's text,
// which the template writes out unchanged.
func styleHash(page string) string {
	_, rest, _ := strings.Cut(page, "<style>")
	css, _, _ := strings.Cut(rest, "</style>")
	sum := sha256.Sum256([]byte(css))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// pageData is what the template renders.
type pageData struct {
	Overview
	Generated time.Time
}

// Page serves the status page: server-rendered HTML that needs no
// JavaScript, under ContentSecurityPolicy.
func (b *Board) Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var buf bytes.Buffer
		if err := statusPage.Execute(&buf, pageData{Overview: b.Overview(), Generated: time.Now()}); err != nil {
			http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	})
}

// API serves the board's Overview as JSON.
func (b *Board) API() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body, err := json.MarshalIndent(b.Overview(), "", "  ")
		if err != nil {
			http.Error(w, "encoding the status failed", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		w.Write(append(body, '\n'))
	})
}
