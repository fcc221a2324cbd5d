package store

import (
	"net/url"
	"regexp"
	"strings"
)

// urlForms lists the system database URLs Open accepts; every refusal of a
// URL ends with it.
const urlForms = "sqlite:app.db (relative to the working directory), sqlite:/var/app.db (absolute), sqlite::memory:, " +
	"sqlite:///app.db and sqlite:////var/app.db (SQLAlchemy's relative and absolute forms), " +
	"postgres://… or postgresql://…, or a key=value connection string (host=… dbname=…)"

// backendImports names the package that links in the backend of a scheme.
var backendImports = map[string]string{
	"sqlite":   "github.com/dboslite/dboslite/store/sqlite",
	"postgres": "github.com/dboslite/dboslite/store/postgres",
}

var (
	schemeRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*):`)

	// dsnRE matches the start of a libpq key=value connection string.
	dsnRE = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*=`)
)

// Scheme returns the scheme of a system database URL, in lower case:
// "sqlite" for "sqlite:app.db"; "postgres" for "postgres://…",
// "postgresql://…" and a libpq key=value connection string such as
// "host=localhost user=app dbname=app"; "" for a string with no scheme,
// such as a bare file path.
func Scheme(url string) string {
	if m := schemeRE.FindStringSubmatch(url); m != nil {
		s := strings.ToLower(m[1])
		if s == "postgresql" {
			return "postgres"
		}
		return s
	}
	if isDSN(url) {
		return "postgres"
	}
	return ""
}

// isDSN reports whether url is a libpq key=value connection string.
func isDSN(url string) bool {
	return !schemeRE.MatchString(url) && dsnRE.MatchString(url)
}

// refuse explains why no linked backend opens url, whose scheme is scheme.
func refuse(url, scheme string) error {
	if imp, ok := backendImports[scheme]; ok {
		return urlErrorf(url, "the store for %s URLs is not linked into this program: add import _ %q", scheme, imp)
	}
	switch {
	case strings.TrimSpace(url) == "":
		return UnsupportedURL(url, "the URL is empty")
	case len(scheme) <= 1: // no scheme, or a Windows drive letter
		return UnsupportedURL(url, "a bare file path is not a system database URL: write "+quote("sqlite:"+RedactURL(url)))
	case scheme == "file":
		return UnsupportedURL(url, "a file: URI is not accepted: write sqlite: and the path")
	}
	return UnsupportedURL(url, "unknown scheme "+quote(scheme))
}

// RedactURL returns url fit to be shown in an error or a log, with every
// password in it replaced by xxxxx: the password of a URL's user
// information, the value of a query parameter whose name contains
// "password", and the value of a key=value connection string's key that
// contains "password". A key=value string that does not parse is not shown
// at all.
func RedactURL(url string) string {
	if isDSN(url) {
		return redactDSN(url)
	}
	return redactQuery(redactUserinfo(url))
}

const hidden = "xxxxx"

// redactUserinfo hides what follows the user name in a URL's user
// information. Passwords are not always escaped, so the user information
// is taken to end at the last '@'.
func redactUserinfo(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		at := strings.LastIndex(rest, "@")
		if at < 0 {
			return s
		}
		user, _, hasPassword := strings.Cut(rest[:at], ":")
		if !hasPassword {
			return s
		}
		return s[:i+3] + user + ":" + hidden + rest[at:]
	}
	// scheme:user:password@host; a sqlite: path or a bare path may hold an @.
	scheme := Scheme(s)
	at := strings.LastIndex(s, "@")
	if scheme == "" || scheme == "sqlite" || at < 0 {
		return s
	}
	return s[:len(scheme)+1] + hidden + s[at:]
}

// redactQuery hides the values of query parameters whose name, unescaped,
// contains "password".
func redactQuery(s string) string {
	head, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	query, fragment, hasFragment := strings.Cut(query, "#")
	params := strings.Split(query, "&")
	for i, p := range params {
		key, _, ok := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if ok && strings.Contains(strings.ToLower(key), "password") {
			params[i] = p[:strings.Index(p, "=")+1] + hidden
		}
	}
	s = head + "?" + strings.Join(params, "&")
	if hasFragment {
		s += "#" + fragment
	}
	return s
}

// redactDSN hides the values of the keys of a libpq key=value connection
// string that contain "password". Values are read as libpq reads them:
// quoted with ' or not, with \ escaping the next character.
func redactDSN(dsn string) string {
	const unparsed = "(a key=value connection string that does not parse, not shown)"
	var pairs []string
	for s := trimSpace(dsn); s != ""; s = trimSpace(s) {
		key, rest, ok := strings.Cut(s, "=")
		key = strings.TrimRight(key, dsnSpace)
		if !ok || key == "" || strings.ContainsAny(key, dsnSpace) {
			return unparsed
		}
		var val string
		if val, s, ok = dsnValue(trimSpace(rest)); !ok {
			return unparsed
		}
		if strings.Contains(strings.ToLower(key), "password") {
			val = hidden
		}
		pairs = append(pairs, key+"="+val)
	}
	return strings.Join(pairs, " ")
}

const dsnSpace = " \t\n\v\f\r"

func trimSpace(s string) string { return strings.TrimLeft(s, dsnSpace) }

// dsnValue splits the value at the start of s, as written, from the rest.
// It reports false for a quote that is not closed.
func dsnValue(s string) (val, rest string, ok bool) {
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '\'':
				return s[:i+1], s[i+1:], true
			}
		}
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case strings.IndexByte(dsnSpace, s[i]) >= 0:
			return s[:i], s[i:], true
		}
	}
	return s, "", true
}

// quote quotes a URL, or part of one, for a message.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
