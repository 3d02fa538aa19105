//! What a wrong answer looked like, in a few words: the start of the body, escaped, or,
//! for an HTML page, its title and whether it is a login page. A source that expected
//! JSON or CSV and got something else quotes this, so the operator sees at once that a
//! sign-in proxy or a web server answered, and never a page of markup or raw bytes.

/// How many characters of an unknown body are quoted.
const QUOTED_CHARS: usize = 80;
/// How far into a body the HTML clues are looked for (a login form is near the top).
const SCANNED_CHARS: usize = 64 * 1024;

/// Whether `body` is an HTML page with a password field: a login page.
pub(crate) fn is_login_page(body: &str) -> bool {
    let head = scanned(body);
    is_html(&head)
        && head.contains("<form")
        && ["type=\"password\"", "type='password'", "type=password"]
            .iter()
            .any(|t| head.contains(t))
}

/// The start of `body` in a few printable words: an HTML page by its title (a login
/// page said so), anything else as its first characters, escaped.
pub(crate) fn excerpt(body: &str) -> String {
    let head = scanned(body);
    if is_html(&head) {
        let page = match title(body).or_else(|| text(body)) {
            Some(t) => format!("an HTML page {t:?}"),
            None => "an HTML page".to_owned(),
        };
        return if is_login_page(body) {
            format!(
                "{page}, a login page: a sign-in proxy or captive portal answered, not the server"
            )
        } else {
            format!("{page}: a web page, not the data asked for")
        };
    }
    let start: String = body.trim_start().chars().take(QUOTED_CHARS).collect();
    let more = if body.trim_start().chars().nth(QUOTED_CHARS).is_some() {
        "…"
    } else {
        ""
    };
    format!("\"{}\"{more}", start.escape_debug())
}

/// The first `SCANNED_CHARS` of `body`, lower case.
fn scanned(body: &str) -> String {
    body.chars()
        .take(SCANNED_CHARS)
        .collect::<String>()
        .to_ascii_lowercase()
}

fn is_html(lower: &str) -> bool {
    let t = lower.trim_start();
    t.starts_with("<!doctype html") || t.starts_with("<html") || t.starts_with("<head")
}

/// The page's `<title>`, trimmed and cut short, when it has one.
fn title(body: &str) -> Option<String> {
    let lower = scanned(body);
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    // Lower-casing ASCII keeps byte offsets, so they index the original too.
    let t: String = body
        .get(start..end)?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!t.is_empty()).then(|| t.chars().take(60).collect())
}

/// The page's text without its tags (the start of it), when it has any.
fn text(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars().take(SCANNED_CHARS) {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let t: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then(|| t.chars().take(60).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_page_an_html_page_and_raw_bytes_in_words() {
        let login = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><form method=\"post\">\
                     <input name=\"password\" type=\"password\"></form></body></html>\n";
        assert!(is_login_page(login));
        assert_eq!(
            excerpt(login),
            "an HTML page \"Sign in\", a login page: a sign-in proxy or captive portal answered, not the server"
        );
        let page = "<html><head><title>\n  Welcome to nginx!\n</title></head><body>…</body></html>";
        assert!(!is_login_page(page));
        assert_eq!(
            excerpt(page),
            "an HTML page \"Welcome to nginx!\": a web page, not the data asked for"
        );
        assert_eq!(
            excerpt("<html><body>503 Service Unavailable</body></html>"),
            "an HTML page \"503 Service Unavailable\": a web page, not the data asked for"
        );
        let garbage = String::from_utf8_lossy(&[0x1b, b'[', 0, 0xff, b'\n', b'x']).into_owned();
        let said = excerpt(&garbage);
        assert!(!said.chars().any(char::is_control), "{said:?}");
        assert_eq!(excerpt(&"a".repeat(200)).chars().count(), 80 + 3);
    }
}
