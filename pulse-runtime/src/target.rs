//! Who among a topic's members a broadcast reaches: everyone, everyone but one session
//! (the sender of a typing indicator), every session of one user (all of their tabs), or
//! one session. Decided per member, the same way on every node.

use std::sync::Arc;

use crate::id::SessionId;

/// The members of a topic a broadcast is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Target {
    /// Every member.
    #[default]
    All,
    /// Every member but this session.
    Except(SessionId),
    /// Every session of the user with this key (see [`Identity`](crate::Identity)).
    User(Arc<str>),
    /// This session only.
    Session(SessionId),
}

impl Target {
    /// Whether a member session (its id, and its user's key when it has one) gets it.
    pub fn admits(&self, session: SessionId, user: Option<&str>) -> bool {
        match self {
            Target::All => true,
            Target::Except(excluded) => *excluded != session,
            Target::User(key) => user == Some(&**key),
            Target::Session(only) => *only == session,
        }
    }
}

/// What a broadcast did by the time it returned: all it can know then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Queued for this many sessions of this node. Through a backplane, other nodes
    /// queue it for theirs as it reaches them.
    Queued(usize),
    /// Sent to the room's history in Redis first: every node, this one included,
    /// delivers it as it comes back, in the history's order, so no session has it yet.
    Kept,
}

impl Delivery {
    /// How many of this node's sessions it was queued for, if it was queued already
    /// (`None` for [`Delivery::Kept`]).
    pub fn queued(self) -> Option<usize> {
        match self {
            Delivery::Queued(sessions) => Some(sessions),
            Delivery::Kept => None,
        }
    }
}

/// What `authenticate` returns: who the session's user is. Sessions whose identities
/// have the same [`user_key`](Identity::user_key) are one user's tabs: a broadcast
/// `to_user(key)` reaches all of them, on every node.
pub trait Identity: Send + Sync + 'static {
    /// The user's key (a user id, an account name).
    fn user_key(&self) -> String;
}

impl Identity for String {
    fn user_key(&self) -> String {
        self.clone()
    }
}

impl Identity for u64 {
    fn user_key(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_admits_exactly_its_members() {
        let (a, b, c) = (SessionId::generate(), SessionId::generate(), SessionId::generate());
        let members = [(a, Some("ann")), (b, Some("bob")), (c, None)];
        let cases = [
            (Target::All, [true, true, true]),
            (Target::Except(a), [false, true, true]),
            (Target::User(Arc::from("ann")), [true, false, false]),
            (Target::Session(b), [false, true, false]),
        ];
        for (target, expected) in cases {
            let got = members.map(|(id, user)| target.admits(id, user));
            assert_eq!(got, expected, "{target:?}");
        }
    }
}
