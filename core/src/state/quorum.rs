//! Quorum of a consensus cluster, derived from what each member last reported.
//!
//! quorum = floor(voters / 2) + 1; failure tolerance = reachable voters - quorum.
//! The state follows domain.md §5, checked in this order:
//! - `split`: two members each claim to be the leader, or members of the same (highest)
//!   term name different leaders. Members at different terms are an election in
//!   progress, not a split: the highest term wins.
//! - `lost`: fewer voters reachable than quorum, or no leader is known.
//! - `at_risk`: quorum holds with no loss to spare (tolerance 0), or a member has an alarm.
//! - `healthy`: otherwise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::MemberStatus;
use crate::model::{MemberId, QuorumState};
use crate::time::Timestamp;

/// One member as the console last saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// The latest poll of this member.
    pub status: MemberStatus,
    /// Whether it votes (from the membership list, else from its own report).
    pub voter: bool,
    /// When it was last polled.
    pub seen_at: Timestamp,
    /// When it was last reachable.
    pub reachable_at: Option<Timestamp>,
    /// Whether it has been polled at all (a declared member starts unpolled).
    pub polled: bool,
}

impl MemberView {
    /// Reachable, no alarm, and knows a leader.
    pub fn healthy(&self) -> bool {
        self.status.reachable && self.status.alarms.is_empty() && self.status.leader.is_some()
    }

    /// Whether this member believes it is the leader.
    pub fn claims_leadership(&self) -> bool {
        self.status.reachable && self.status.leader.as_ref() == Some(&self.status.member)
    }
}

/// The derived quorum view of one cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumView {
    /// Voting members.
    pub voters: u32,
    /// Votes needed: floor(voters / 2) + 1.
    pub quorum: u32,
    /// Voting members that answered their last poll.
    pub reachable: u32,
    /// How many more voters may be lost before quorum is: reachable - quorum, at least 0.
    pub tolerance: u32,
    /// The agreed leader, if any.
    pub leader: Option<MemberId>,
    /// The highest raft term any reachable member reported.
    pub term: u64,
    /// Healthy, at risk, lost or split.
    pub state: QuorumState,
    /// One sentence for the operator on why the state is what it is.
    pub reason: String,
}

/// Quorum size for `voters` voting members.
pub const fn quorum_size(voters: u32) -> u32 {
    voters / 2 + 1
}

/// Derives the quorum view from the members' latest reports.
pub fn evaluate(members: &BTreeMap<MemberId, MemberView>) -> QuorumView {
    let voters = members.values().filter(|m| m.voter).count() as u32;
    let reachable = members
        .values()
        .filter(|m| m.voter && m.status.reachable)
        .count() as u32;
    let quorum = quorum_size(voters);
    let tolerance = reachable.saturating_sub(quorum);

    let term = members
        .values()
        .filter(|m| m.status.reachable)
        .map(|m| m.status.term)
        .max()
        .unwrap_or(0);

    let mut claimants: Vec<&MemberId> = members
        .values()
        .filter(|m| m.claims_leadership())
        .map(|m| &m.status.member)
        .collect();
    claimants.dedup();

    let mut named: Vec<&MemberId> = members
        .values()
        .filter(|m| m.status.reachable && m.status.term == term)
        .filter_map(|m| m.status.leader.as_ref())
        .collect();
    named.sort();
    named.dedup();

    let leader = if named.len() == 1 {
        named.first().map(|&l| l.clone())
    } else {
        None
    };
    let alarms: Vec<String> = members
        .values()
        .filter(|m| m.status.reachable && !m.status.alarms.is_empty())
        .map(|m| format!("{} on {}", m.status.alarms.join(","), m.status.member))
        .collect();

    let (state, reason) = if claimants.len() > 1 {
        let claimed: Vec<&str> = claimants.iter().map(|m| m.as_str()).collect();
        (
            QuorumState::Split,
            format!("{} all claim leadership", claimed.join(" and ")),
        )
    } else if named.len() > 1 {
        let leaders: Vec<&str> = named.iter().map(|m| m.as_str()).collect();
        (
            QuorumState::Split,
            format!(
                "members disagree on the leader in term {term}: {}",
                leaders.join(" vs ")
            ),
        )
    } else if voters == 0 {
        (QuorumState::Lost, "no voting members known".to_owned())
    } else if reachable < quorum {
        (
            QuorumState::Lost,
            format!("{reachable} of {voters} voters reachable, quorum needs {quorum}"),
        )
    } else if leader.is_none() {
        (
            QuorumState::Lost,
            format!("{reachable} of {voters} voters reachable but no leader"),
        )
    } else if tolerance == 0 {
        (
            QuorumState::AtRisk,
            format!("{reachable} of {voters} voters reachable: one more loss breaks quorum"),
        )
    } else if !alarms.is_empty() {
        (QuorumState::AtRisk, format!("alarm {}", alarms.join("; ")))
    } else {
        (
            QuorumState::Healthy,
            format!("{reachable} of {voters} voters reachable, tolerates {tolerance} more"),
        )
    };

    QuorumView {
        voters,
        quorum,
        reachable,
        tolerance,
        leader,
        term,
        state,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, reachable: bool, leader: Option<&str>, term: u64) -> MemberView {
        MemberView {
            status: MemberStatus {
                member: MemberId::new(name),
                reachable,
                voter: true,
                leader: leader.map(MemberId::new),
                term,
                ..MemberStatus::default()
            },
            voter: true,
            seen_at: Timestamp(0),
            reachable_at: None,
            polled: true,
        }
    }

    fn cluster(voters: u32, down: u32) -> BTreeMap<MemberId, MemberView> {
        (0..voters)
            .map(|i| {
                let name = format!("m{i}");
                let up = i >= down;
                (
                    MemberId::new(&name),
                    member(&name, up, up.then_some("m6"), 2),
                )
            })
            .collect()
    }

    /// Quorum for 1..=7 voters and every number of lost members.
    #[test]
    fn quorum_table() {
        // (voters, down) -> (quorum, tolerance, state); m6 leads, so keep it up where possible.
        let cases: &[(u32, u32, u32, u32, QuorumState)] = &[
            (1, 0, 1, 0, QuorumState::AtRisk),
            (1, 1, 1, 0, QuorumState::Lost),
            (2, 0, 2, 0, QuorumState::AtRisk),
            (2, 1, 2, 0, QuorumState::Lost),
            (3, 0, 2, 1, QuorumState::Healthy),
            (3, 1, 2, 0, QuorumState::AtRisk),
            (3, 2, 2, 0, QuorumState::Lost),
            (4, 0, 3, 1, QuorumState::Healthy),
            (4, 1, 3, 0, QuorumState::AtRisk),
            (4, 2, 3, 0, QuorumState::Lost),
            (5, 0, 3, 2, QuorumState::Healthy),
            (5, 1, 3, 1, QuorumState::Healthy),
            (5, 2, 3, 0, QuorumState::AtRisk),
            (5, 3, 3, 0, QuorumState::Lost),
            (6, 0, 4, 2, QuorumState::Healthy),
            (6, 2, 4, 0, QuorumState::AtRisk),
            (6, 3, 4, 0, QuorumState::Lost),
            (7, 0, 4, 3, QuorumState::Healthy),
            (7, 2, 4, 1, QuorumState::Healthy),
            (7, 3, 4, 0, QuorumState::AtRisk),
            (7, 4, 4, 0, QuorumState::Lost),
        ];
        for &(voters, down, quorum, tolerance, state) in cases {
            let mut members = cluster(voters, down);
            // Whoever is up agrees on one live leader.
            let live = members
                .values()
                .find(|m| m.status.reachable)
                .map(|m| m.status.member.clone());
            for m in members.values_mut() {
                if m.status.reachable {
                    m.status.leader.clone_from(&live);
                }
            }
            let q = evaluate(&members);
            assert_eq!(q.voters, voters, "voters {voters} down {down}");
            assert_eq!(q.quorum, quorum, "quorum {voters} down {down}");
            assert_eq!(q.reachable, voters - down, "reachable {voters} down {down}");
            assert_eq!(q.tolerance, tolerance, "tolerance {voters} down {down}");
            assert_eq!(q.state, state, "state {voters} down {down}: {}", q.reason);
        }
    }

    #[test]
    fn no_leader_is_lost_even_with_quorum() {
        let members: BTreeMap<_, _> = ["a", "b", "c"]
            .iter()
            .map(|n| (MemberId::new(n), member(n, true, None, 3)))
            .collect();
        let q = evaluate(&members);
        assert_eq!(q.state, QuorumState::Lost);
        assert!(q.reason.contains("no leader"), "{}", q.reason);
    }

    #[test]
    fn two_self_claimed_leaders_is_split() {
        let members: BTreeMap<_, _> = [
            member("a", true, Some("a"), 3),
            member("b", true, Some("b"), 4),
            member("c", true, Some("b"), 4),
        ]
        .into_iter()
        .map(|m| (m.status.member.clone(), m))
        .collect();
        let q = evaluate(&members);
        assert_eq!(q.state, QuorumState::Split);
    }

    #[test]
    fn disagreement_within_a_term_is_split_across_terms_is_not() {
        let same_term: BTreeMap<_, _> = [
            member("a", true, Some("b"), 4),
            member("b", true, Some("c"), 4),
            member("c", true, Some("c"), 4),
        ]
        .into_iter()
        .map(|m| (m.status.member.clone(), m))
        .collect();
        assert_eq!(evaluate(&same_term).state, QuorumState::Split);

        // a still reports the old term's leader during an election: not a split.
        let election: BTreeMap<_, _> = [
            member("a", true, Some("x"), 3),
            member("b", true, Some("c"), 4),
            member("c", true, Some("c"), 4),
        ]
        .into_iter()
        .map(|m| (m.status.member.clone(), m))
        .collect();
        let q = evaluate(&election);
        assert_eq!(q.state, QuorumState::Healthy, "{}", q.reason);
        assert_eq!(q.leader, Some(MemberId::new("c")));
        assert_eq!(q.term, 4);
    }

    #[test]
    fn alarm_makes_at_risk() {
        let mut members = cluster(3, 0);
        for m in members.values_mut() {
            m.status.leader = Some(MemberId::new("m0"));
        }
        if let Some(m) = members.get_mut("m1") {
            m.status.alarms = vec!["NOSPACE".into()];
        }
        let q = evaluate(&members);
        assert_eq!(q.state, QuorumState::AtRisk);
        assert!(q.reason.contains("NOSPACE"), "{}", q.reason);
    }

    #[test]
    fn learners_do_not_count() {
        let mut members = cluster(3, 0);
        for m in members.values_mut() {
            m.status.leader = Some(MemberId::new("m0"));
        }
        let mut learner = member("l", true, Some("m0"), 2);
        learner.voter = false;
        members.insert(MemberId::new("l"), learner);
        let q = evaluate(&members);
        assert_eq!((q.voters, q.quorum, q.reachable), (3, 2, 3));
    }
}
