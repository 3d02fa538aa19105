//! The XML AWS answers with (Route53's REST API, EC2's query API), read into a small
//! tree: element names without namespaces, their text, their children in order.
//! Answers are bounded before they get here; the depth is bounded here, so a hostile
//! answer cannot nest its way past the stack.

use quick_xml::events::Event;

/// The deepest nesting read (EC2's `DescribeInstances` is 8 deep).
const MAX_DEPTH: usize = 64;

/// One element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Its local name (`ResourceRecordSet`).
    pub name: String,
    /// Its text, trimmed (empty for an element of elements).
    pub text: String,
    /// Its elements, in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Self> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The element at `path` (child names separated by `/`) below this one.
    pub fn at(&self, path: &str) -> Option<&Self> {
        path.split('/').try_fold(self, |e, name| e.child(name))
    }

    /// The text at `path`, if there is such an element.
    pub fn text_at(&self, path: &str) -> Option<&str> {
        self.at(path).map(|e| e.text.as_str())
    }

    /// The children named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Self> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Parses `text` into its root element.
pub fn parse(text: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let bad = |e: &dyn std::fmt::Display| format!("not XML: {e}");
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(s) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH}"));
                }
                stack.push(Element {
                    name: local(s.local_name().as_ref()),
                    ..Element::default()
                });
            }
            Event::Empty(s) => {
                let e = Element {
                    name: local(s.local_name().as_ref()),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None => return Ok(e),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let t = t.decode().map_err(|e| bad(&e))?;
                    let t = quick_xml::escape::unescape(&t).map_err(|e| bad(&e))?;
                    top.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.decode().map_err(|e| bad(&e))?;
                    let entity = format!("&{name};");
                    let t = quick_xml::escape::unescape(&entity).map_err(|e| bad(&e))?;
                    top.text.push_str(&t);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::End(_) => {
                let Some(mut done) = stack.pop() else {
                    return Err(bad(&"an end tag with no start"));
                };
                let text = std::mem::take(&mut done.text);
                done.text = String::from(text.trim());
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Eof => return Err(bad(&"it ends before its root element closes")),
            _ => {}
        }
    }
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_text_and_entities_are_read() {
        let x = parse(
            r#"<?xml version="1.0"?>
            <GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
              <ChangeInfo><Id>/change/C1</Id><Status>INSYNC</Status>
              <Comment>a &amp; b</Comment><Empty/></ChangeInfo>
            </GetChangeResponse>"#,
        )
        .expect("xml");
        assert_eq!(x.name, "GetChangeResponse");
        assert_eq!(x.text_at("ChangeInfo/Status"), Some("INSYNC"));
        assert_eq!(x.text_at("ChangeInfo/Comment"), Some("a & b"));
        assert!(x.at("ChangeInfo/Empty").is_some());
        assert_eq!(x.text_at("ChangeInfo/Nope"), None);
    }

    #[test]
    fn garbage_and_deep_nesting_are_errors() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("not xml at all").is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(&deep).expect_err("deep").contains("deeper"));
    }
}
