//! Route53: a record read, the record moved in one atomic change, the change followed
//! until every Route53 server has it (`INSYNC`).
//!
//! Route53 applies a change batch all or nothing, and a `DELETE` must name the record
//! exactly as it is (value and TTL): a batch of `DELETE` what the plan read + `CREATE`
//! the new value is therefore a compare-and-swap. Someone who changed the record since
//! the plan makes the batch fail (`InvalidChangeBatch`), nothing is overwritten.

use std::fmt::Write as _;

use super::call::Api;
use super::xml::Element;

/// The API's version path.
const VERSION: &str = "/2013-04-01";

/// One record set as Route53 holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordSet {
    /// Fully written, with the final dot (`www.example.com.`).
    pub name: String,
    /// `CNAME`, `A`, `AAAA`.
    pub rtype: String,
    /// Seconds.
    pub ttl: u32,
    /// Its values (one for a CNAME).
    pub values: Vec<String>,
}

/// `name` with its final dot.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// A hosted zone's id as the API's paths want it (`Z123`, from `/hostedzone/Z123` too).
fn zone(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// The record `name`/`rtype` of zone `zone_id`, or `None` when there is none.
pub async fn read(
    api: &Api,
    zone_id: &str,
    name: &str,
    rtype: &str,
) -> Result<Option<RecordSet>, String> {
    let name = fqdn(name);
    let query = vec![
        ("name".to_owned(), name.clone()),
        ("type".to_owned(), rtype.to_owned()),
        ("maxitems".to_owned(), "1".to_owned()),
    ];
    let x = api
        .call(
            &format!("reading {name} {rtype} from Route53 zone {}", zone(zone_id)),
            "GET",
            &format!("{VERSION}/hostedzone/{}/rrset", zone(zone_id)),
            &query,
            Vec::new(),
            None,
        )
        .await?;
    Ok(record_sets(&x)
        .into_iter()
        .find(|r| r.name.eq_ignore_ascii_case(&name) && r.rtype == rtype))
}

/// The record sets of a `ListResourceRecordSetsResponse`.
pub fn record_sets(x: &Element) -> Vec<RecordSet> {
    x.at("ResourceRecordSets")
        .map(|sets| {
            sets.all("ResourceRecordSet")
                .map(|r| RecordSet {
                    name: r.text_at("Name").unwrap_or_default().to_owned(),
                    rtype: r.text_at("Type").unwrap_or_default().to_owned(),
                    ttl: r.text_at("TTL").and_then(|t| t.parse().ok()).unwrap_or(0),
                    values: r
                        .at("ResourceRecords")
                        .map(|rs| {
                            rs.all("ResourceRecord")
                                .filter_map(|v| v.text_at("Value"))
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The change batch that replaces `from` (exactly as read; `None`: there is no record)
/// by `to`.
pub fn change_batch(from: Option<&RecordSet>, to: &RecordSet, comment: &str) -> String {
    let set = |r: &RecordSet| {
        let mut values = String::new();
        for v in &r.values {
            let _ = write!(
                values,
                "<ResourceRecord><Value>{}</Value></ResourceRecord>",
                escape(v)
            );
        }
        format!(
            "<ResourceRecordSet><Name>{}</Name><Type>{}</Type><TTL>{}</TTL><ResourceRecords>{values}</ResourceRecords></ResourceRecordSet>",
            escape(&fqdn(&r.name)),
            escape(&r.rtype),
            r.ttl
        )
    };
    let mut changes = String::new();
    if let Some(f) = from {
        let _ = write!(
            changes,
            "<Change><Action>DELETE</Action>{}</Change>",
            set(f)
        );
    }
    let _ = write!(
        changes,
        "<Change><Action>CREATE</Action>{}</Change>",
        set(to)
    );
    format!(
        r#"<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Comment>{}</Comment><Changes>{changes}</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"#,
        escape(comment)
    )
}

fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Replaces `from` by `to` in one change; returns the change's id (`/change/C…`).
pub async fn replace(
    api: &Api,
    zone_id: &str,
    from: Option<&RecordSet>,
    to: &RecordSet,
    comment: &str,
) -> Result<String, String> {
    let x = api
        .call(
            &format!("changing {} in Route53 zone {}", to.name, zone(zone_id)),
            "POST",
            // With the final slash, as AWS documents this call (its read has none).
            &format!("{VERSION}/hostedzone/{}/rrset/", zone(zone_id)),
            &[],
            change_batch(from, to, comment).into_bytes(),
            Some("application/xml"),
        )
        .await?;
    x.text_at("ChangeInfo/Id")
        .map(str::to_owned)
        .ok_or_else(|| "Route53 accepted the change but named no change id".to_owned())
}

/// The id of the hosted zone named `name` (`ListHostedZonesByName`): refused in words
/// when there is none, or more than one (a public and a private zone of one name).
pub async fn zone_id_by_name(api: &Api, name: &str) -> Result<String, String> {
    let want = fqdn(name).to_ascii_lowercase();
    let x = api
        .call(
            &format!("finding Route53 hosted zone {want}"),
            "GET",
            &format!("{VERSION}/hostedzonesbyname"),
            &[
                ("dnsname".to_owned(), want.clone()),
                ("maxitems".to_owned(), "10".to_owned()),
            ],
            Vec::new(),
            None,
        )
        .await?;
    let zones = zones_named(&x, &want);
    match zones.as_slice() {
        [(id, _)] => Ok(id.clone()),
        [] => Err(format!(
            "Route53 has no hosted zone {want} for the credentials from {}",
            api.credentials_from()
        )),
        many => Err(format!(
            "{} hosted zones are named {want} ({}): set route53.zone_id",
            many.len(),
            many.iter()
                .map(|(id, private)| format!(
                    "{id} {}",
                    if *private { "private" } else { "public" }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The (id, private) of the zones named `want` in a `ListHostedZonesByNameResponse`.
pub fn zones_named(x: &Element, want: &str) -> Vec<(String, bool)> {
    x.at("HostedZones")
        .map(|z| {
            z.all("HostedZone")
                .filter(|h| {
                    h.text_at("Name")
                        .is_some_and(|n| fqdn(n).eq_ignore_ascii_case(want))
                })
                .filter_map(|h| {
                    let id = zone(h.text_at("Id")?).to_owned();
                    let private = h.text_at("Config/PrivateZone") == Some("true");
                    Some((id, private))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A change's status: `PENDING` or `INSYNC`.
pub async fn change_status(api: &Api, change_id: &str) -> Result<String, String> {
    let id = change_id.trim_start_matches("/change/");
    let x = api
        .call(
            &format!("following Route53 change {id}"),
            "GET",
            &format!("{VERSION}/change/{id}"),
            &[],
            Vec::new(),
            None,
        )
        .await?;
    x.text_at("ChangeInfo/Status")
        .map(str::to_owned)
        .ok_or_else(|| format!("Route53 said nothing of change {id}'s status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of AWS's documented `ListResourceRecordSets` answer.
    #[test]
    fn record_sets_are_read() {
        let x = super::super::xml::parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
  <ResourceRecordSets>
    <ResourceRecordSet><Name>www.example.com.</Name><Type>CNAME</Type><TTL>15</TTL>
      <ResourceRecords><ResourceRecord><Value>eu-west.example.com</Value></ResourceRecord></ResourceRecords>
    </ResourceRecordSet>
  </ResourceRecordSets>
  <IsTruncated>false</IsTruncated><MaxItems>1</MaxItems>
</ListResourceRecordSetsResponse>"#,
        )
        .expect("xml");
        assert_eq!(
            record_sets(&x),
            [RecordSet {
                name: "www.example.com.".into(),
                rtype: "CNAME".into(),
                ttl: 15,
                values: vec!["eu-west.example.com".into()],
            }]
        );
    }

    /// The shape of AWS's documented `ListHostedZonesByName` answer: the zones from
    /// the name on, so only exact names count.
    #[test]
    fn zones_are_found_by_their_exact_name() {
        let x = super::super::xml::parse(
            r#"<ListHostedZonesByNameResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
  <HostedZones>
    <HostedZone><Id>/hostedzone/Z111</Id><Name>example.com.</Name><Config><PrivateZone>false</PrivateZone></Config></HostedZone>
    <HostedZone><Id>/hostedzone/Z222</Id><Name>example.com.</Name><Config><PrivateZone>true</PrivateZone></Config></HostedZone>
    <HostedZone><Id>/hostedzone/Z333</Id><Name>example.net.</Name></HostedZone>
  </HostedZones>
  <DNSName>example.com.</DNSName><IsTruncated>false</IsTruncated><MaxItems>10</MaxItems>
</ListHostedZonesByNameResponse>"#,
        )
        .expect("xml");
        assert_eq!(
            zones_named(&x, "example.com."),
            [("Z111".to_owned(), false), ("Z222".to_owned(), true)]
        );
        assert_eq!(
            zones_named(&x, "example.net."),
            [("Z333".to_owned(), false)]
        );
        assert!(zones_named(&x, "example.org.").is_empty());
    }

    /// A move is DELETE exactly what was read, then CREATE: a compare-and-swap.
    #[test]
    fn a_move_deletes_what_was_read_and_creates_the_new_value() {
        let from = RecordSet {
            name: "www.example.com".into(),
            rtype: "CNAME".into(),
            ttl: 15,
            values: vec!["eu-west.example.com".into()],
        };
        let to = RecordSet {
            values: vec!["eu-central.example.com".into()],
            ..from.clone()
        };
        let b = change_batch(Some(&from), &to, "dns-failover <run 3>");
        let del = b.find("<Action>DELETE</Action>").expect("delete");
        let create = b.find("<Action>CREATE</Action>").expect("create");
        assert!(del < create);
        assert!(b.contains("<Name>www.example.com.</Name>"));
        assert!(b.contains("<Value>eu-west.example.com</Value>"));
        assert!(b.contains("<Comment>dns-failover &lt;run 3&gt;</Comment>"));
        let parsed = super::super::xml::parse(&b).expect("well-formed");
        assert_eq!(parsed.name, "ChangeResourceRecordSetsRequest");
        assert!(!change_batch(None, &to, "").contains("DELETE"));
    }
}
