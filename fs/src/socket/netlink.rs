//! `AF_NETLINK` sockets of protocol `NETLINK_ROUTE`: the kernel side answers link and
//! address requests about the loopback interface ([`loopback`](super::loopback)), which is
//! what glibc's `getifaddrs`, `if_nameindex` and `getaddrinfo(AI_ADDRCONFIG)` ask.
//!
//! A socket gets a port id when it binds (the caller's pid if free, else a negative
//! number, as Linux picks them) or first sends. A request to the kernel (port 0) is
//! answered at once into the sender's own queue, one datagram per request: a dump of
//! `RTM_GETLINK` (the interface) or `RTM_GETADDR` (127.0.0.1/8 and ::1/128, filtered by
//! family) ends with `NLMSG_DONE`; other dumps are empty; a change (`RTM_NEW*`,
//! `RTM_DEL*`, `RTM_SET*`) is `EPERM`, since the sandbox may not configure its network;
//! anything else is `EOPNOTSUPP`. A message to another port goes to the socket bound
//! there. Multicast groups are recorded, never sent to.

use super::core::Msg;
use super::{Address, Binding as AnyBinding, SendArgs, Socket, Target, loopback};
use crate::Result;
use nix::errno::Errno;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// The only netlink protocol there is.
pub const NETLINK_ROUTE: i32 = libc::NETLINK_ROUTE;
/// `sizeof(struct sockaddr_nl)`.
const SOCKADDR_NL: usize = 12;
/// `sizeof(struct nlmsghdr)`.
const NLMSG_HDR: usize = 16;
/// The first port id Linux tries after the caller's pid (counting down).
const FIRST_ROVER: i32 = -4097;

/// A netlink address: a port id and multicast groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NlAddr {
    /// The port id (0: the kernel).
    pub port: u32,
    /// Multicast group mask.
    pub groups: u32,
}

impl NlAddr {
    /// The `sockaddr_nl`.
    pub fn sockaddr(&self) -> Vec<u8> {
        let mut out = vec![0u8; SOCKADDR_NL];
        out[..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
        out[4..8].copy_from_slice(&self.port.to_ne_bytes());
        out[8..12].copy_from_slice(&self.groups.to_ne_bytes());
        out
    }

    /// Parses a guest `sockaddr_nl`: `EINVAL` if short or of another family.
    pub fn parse(raw: &[u8]) -> Result<NlAddr> {
        if raw.len() < SOCKADDR_NL
            || u16::from_ne_bytes([raw[0], raw[1]]) as i32 != libc::AF_NETLINK
        {
            return Err(Errno::EINVAL);
        }
        Ok(NlAddr {
            port: u32::from_ne_bytes(raw[4..8].try_into().expect("4 bytes")),
            groups: u32::from_ne_bytes(raw[8..12].try_into().expect("4 bytes")),
        })
    }
}

type Ids = Arc<Mutex<HashMap<u32, Weak<Socket>>>>;

/// The netlink port ids of a namespace.
pub(crate) struct Ports {
    ids: Ids,
    rover: Mutex<i32>,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            ids: Ids::default(),
            rover: Mutex::new(FIRST_ROVER),
        }
    }
}

/// A socket's port id, given up when dropped.
pub(crate) struct Binding {
    ids: Weak<Mutex<HashMap<u32, Weak<Socket>>>>,
    port: u32,
}

impl Drop for Binding {
    fn drop(&mut self) {
        if let Some(ids) = self.ids.upgrade() {
            ids.lock().remove(&self.port);
        }
    }
}

impl Ports {
    /// Registers `sock` at `port` (0: the caller's pid if free, else the next free
    /// negative id): `EADDRINUSE` if taken.
    fn register(&self, sock: &Weak<Socket>, port: u32, pid: i32) -> Result<(u32, Binding)> {
        let mut ids = self.ids.lock();
        let live = |ids: &HashMap<u32, Weak<Socket>>, p: u32| {
            ids.get(&p).is_some_and(|s| s.strong_count() > 0)
        };
        let port = if port != 0 {
            if live(&ids, port) {
                return Err(Errno::EADDRINUSE);
            }
            port
        } else if pid > 0 && !live(&ids, pid as u32) {
            pid as u32
        } else {
            let mut rover = self.rover.lock();
            loop {
                let p = *rover as u32;
                *rover = if *rover <= i32::MIN + 1 {
                    FIRST_ROVER
                } else {
                    *rover - 1
                };
                if !live(&ids, p) {
                    break p;
                }
            }
        };
        ids.insert(port, sock.clone());
        let binding = Binding {
            ids: Arc::downgrade(&self.ids),
            port,
        };
        Ok((port, binding))
    }

    fn lookup(&self, port: u32) -> Option<Arc<Socket>> {
        self.ids.lock().get(&port).and_then(Weak::upgrade)
    }
}

/// `bind(addr)`: takes port id `addr.port` (0: picks one) and subscribes to
/// `addr.groups`. Bound already, only the groups change (`EINVAL` for another port).
pub fn bind(sock: &Socket, addr: NlAddr) -> Result<()> {
    let mut st = sock.st.lock();
    if let Some(Address::Netlink(cur)) = &mut st.addr {
        if addr.port != 0 && addr.port != cur.port {
            return Err(Errno::EINVAL);
        }
        cur.groups = addr.groups;
        return Ok(());
    }
    let pid = sock.ns.caller().pid;
    let (port, binding) = sock.ns.netlink.register(&sock.me, addr.port, pid)?;
    st.addr = Some(Address::Netlink(NlAddr {
        port,
        groups: addr.groups,
    }));
    st.binding = Some(AnyBinding::Netlink(binding));
    Ok(())
}

/// The socket's port id, binding it first if it has none.
fn autobind(sock: &Socket) -> Result<NlAddr> {
    if let Some(Address::Netlink(a)) = sock.name() {
        return Ok(a);
    }
    bind(sock, NlAddr::default())?;
    match sock.name() {
        Some(Address::Netlink(a)) => Ok(a),
        _ => Err(Errno::EINVAL),
    }
}

/// `connect`: the default destination (`None`, `AF_UNSPEC`: the kernel again).
pub(super) fn connect(sock: &Socket, target: Option<Target>) -> Result<()> {
    match target {
        None => sock.set_remote(None),
        Some(Target::Addr(a @ Address::Netlink(_))) => {
            autobind(sock)?;
            sock.set_remote(Some(a));
        }
        Some(_) => return Err(Errno::EINVAL),
    }
    Ok(())
}

/// A send: requests to the kernel are answered into this socket's queue; a message to
/// another port id is delivered there (`ECONNREFUSED` if nobody has it). `EMSGSIZE`
/// beyond the send buffer.
pub(super) fn send(sock: &Socket, data: &[u8], args: SendArgs) -> Result<usize> {
    let dst = match args.to {
        Some(Target::Addr(Address::Netlink(a))) => a,
        Some(_) => return Err(Errno::EINVAL),
        None => match sock.peer_name() {
            Ok(Some(Address::Netlink(a))) => a,
            _ => NlAddr::default(),
        },
    };
    if data.len() + 32 > sock.opts().sndbuf {
        return Err(Errno::EMSGSIZE);
    }
    let me = autobind(sock)?;
    if dst.port != 0 {
        let to = sock
            .ns
            .netlink
            .lookup(dst.port)
            .ok_or(Errno::ECONNREFUSED)?;
        to.deliver(Msg::datagram(data.to_vec(), Address::Netlink(me)), true);
        return Ok(data.len());
    }
    for reply in route::answer(data, me.port) {
        sock.deliver(
            Msg::datagram(reply, Address::Netlink(NlAddr::default())),
            false,
        );
    }
    Ok(data.len())
}

/// The `NETLINK_ROUTE` protocol: requests in, replies out, as bytes.
mod route {
    use super::{NLMSG_HDR, loopback};
    use nix::errno::Errno;

    const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
    const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
    const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
    const NLM_F_MULTI: u16 = libc::NLM_F_MULTI as u16;
    const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
    const NLM_F_DUMP: u16 = (libc::NLM_F_ROOT | libc::NLM_F_MATCH) as u16;
    /// The first rtnetlink message type; lower ones are netlink's own.
    const RTM_BASE: u16 = 16;
    /// The last rtnetlink message type Linux knows.
    const RTM_MAX: u16 = 123;

    const IFLA_ADDRESS: u16 = 1;
    const IFLA_BROADCAST: u16 = 2;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_MTU: u16 = 4;
    const IFLA_QDISC: u16 = 6;
    const IFLA_STATS: u16 = 7;
    const IFLA_TXQLEN: u16 = 13;
    const IFLA_OPERSTATE: u16 = 16;
    const IFLA_LINKMODE: u16 = 17;
    const IFLA_GROUP: u16 = 27;
    const IFLA_PROMISCUITY: u16 = 30;
    const IFLA_NUM_TX_QUEUES: u16 = 31;
    const IFLA_NUM_RX_QUEUES: u16 = 32;
    const IFLA_CARRIER: u16 = 33;
    /// `sizeof(struct rtnl_link_stats)`.
    const LINK_STATS: usize = 96;

    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_LABEL: u16 = 3;
    const IFA_CACHEINFO: u16 = 6;
    const IFA_FLAGS: u16 = 8;
    const IFA_F_PERMANENT: u8 = 0x80;

    /// One reply message being built.
    struct Out(Vec<u8>);

    impl Out {
        fn new(ty: u16, flags: u16, seq: u32, port: u32) -> Out {
            let mut b = Vec::with_capacity(256);
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&ty.to_ne_bytes());
            b.extend_from_slice(&flags.to_ne_bytes());
            b.extend_from_slice(&seq.to_ne_bytes());
            b.extend_from_slice(&port.to_ne_bytes());
            Out(b)
        }

        fn put(&mut self, data: &[u8]) -> &mut Out {
            self.0.extend_from_slice(data);
            self
        }

        /// An attribute (`struct rtattr` and its data, padded to 4 bytes).
        fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Out {
            let len = (4 + data.len()) as u16;
            self.put(&len.to_ne_bytes())
                .put(&ty.to_ne_bytes())
                .put(data);
            let pad = self.0.len().next_multiple_of(4) - self.0.len();
            self.0.extend(std::iter::repeat_n(0, pad));
            self
        }

        fn finish(mut self) -> Vec<u8> {
            let len = self.0.len() as u32;
            self.0[..4].copy_from_slice(&len.to_ne_bytes());
            self.0
        }
    }

    /// A request's header fields.
    struct Request<'a> {
        ty: u16,
        flags: u16,
        seq: u32,
        /// The whole message, header included.
        raw: &'a [u8],
    }

    impl Request<'_> {
        fn payload(&self) -> &[u8] {
            &self.raw[NLMSG_HDR..]
        }
    }

    /// `RTM_NEWLINK` for `lo`.
    fn link(port: u32, seq: u32, flags: u16) -> Vec<u8> {
        let mut m = Out::new(libc::RTM_NEWLINK, flags, seq, port);
        m.put(&[libc::AF_UNSPEC as u8, 0])
            .put(&loopback::HW_TYPE.to_ne_bytes())
            .put(&loopback::INDEX.to_ne_bytes())
            .put(&loopback::FLAGS.to_ne_bytes())
            .put(&0u32.to_ne_bytes());
        let mut name = loopback::NAME.to_vec();
        name.push(0);
        m.attr(IFLA_IFNAME, &name)
            .attr(IFLA_TXQLEN, &loopback::TXQLEN.to_ne_bytes())
            .attr(IFLA_OPERSTATE, &[0])
            .attr(IFLA_LINKMODE, &[0])
            .attr(IFLA_MTU, &loopback::MTU.to_ne_bytes())
            .attr(IFLA_GROUP, &0u32.to_ne_bytes())
            .attr(IFLA_PROMISCUITY, &0u32.to_ne_bytes())
            .attr(IFLA_NUM_TX_QUEUES, &1u32.to_ne_bytes())
            .attr(IFLA_NUM_RX_QUEUES, &1u32.to_ne_bytes())
            .attr(IFLA_CARRIER, &[1])
            .attr(IFLA_QDISC, b"noqueue\0")
            .attr(IFLA_ADDRESS, &[0; 6])
            .attr(IFLA_BROADCAST, &[0; 6])
            .attr(IFLA_STATS, &[0; LINK_STATS]);
        m.finish()
    }

    /// `RTM_NEWADDR` for each of `lo`'s addresses of `family` (`AF_UNSPEC`: all).
    fn addrs(port: u32, seq: u32, family: i32) -> Vec<Vec<u8>> {
        let cacheinfo: Vec<u8> = [u32::MAX, u32::MAX, 0, 0]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let flags = u32::from(IFA_F_PERMANENT).to_ne_bytes();
        let mut out = Vec::new();
        let head = |m: &mut Out, fam: i32, prefix: u8| {
            m.put(&[fam as u8, prefix, IFA_F_PERMANENT, libc::RT_SCOPE_HOST])
                .put(&(loopback::INDEX as u32).to_ne_bytes());
        };
        if family == libc::AF_UNSPEC || family == libc::AF_INET {
            let mut m = Out::new(libc::RTM_NEWADDR, NLM_F_MULTI, seq, port);
            let (ip, prefix) = loopback::V4;
            head(&mut m, libc::AF_INET, prefix);
            let mut label = loopback::NAME.to_vec();
            label.push(0);
            m.attr(IFA_ADDRESS, &ip.octets())
                .attr(IFA_LOCAL, &ip.octets())
                .attr(IFA_LABEL, &label)
                .attr(IFA_FLAGS, &flags)
                .attr(IFA_CACHEINFO, &cacheinfo);
            out.push(m.finish());
        }
        if family == libc::AF_UNSPEC || family == libc::AF_INET6 {
            let mut m = Out::new(libc::RTM_NEWADDR, NLM_F_MULTI, seq, port);
            let (ip, prefix) = loopback::V6;
            head(&mut m, libc::AF_INET6, prefix);
            m.attr(IFA_ADDRESS, &ip.octets())
                .attr(IFA_CACHEINFO, &cacheinfo)
                .attr(IFA_FLAGS, &flags);
            out.push(m.finish());
        }
        out
    }

    fn done(port: u32, seq: u32) -> Vec<u8> {
        let mut m = Out::new(NLMSG_DONE, NLM_F_MULTI, seq, port);
        m.put(&0i32.to_ne_bytes());
        m.finish()
    }

    /// `NLMSG_ERROR` for `req`: an error echoes the request, an ack (`e` `None`) only
    /// its header.
    fn error(req: &Request, port: u32, e: Option<Errno>) -> Vec<u8> {
        let mut m = Out::new(NLMSG_ERROR, 0, req.seq, port);
        m.put(&(-e.map_or(0, |e| e as i32)).to_ne_bytes());
        m.put(if e.is_some() {
            req.raw
        } else {
            &req.raw[..NLMSG_HDR]
        });
        m.finish()
    }

    /// Whether a `RTM_GETLINK` that is no dump asks for `lo` (by index or name).
    fn asks_for_lo(req: &Request) -> bool {
        let p = req.payload();
        let index = p
            .get(4..8)
            .map_or(0, |b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
        if index != 0 {
            return index == loopback::INDEX;
        }
        let mut attrs = p.get(16..).unwrap_or_default();
        while attrs.len() >= 4 {
            let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
            let ty = u16::from_ne_bytes([attrs[2], attrs[3]]);
            if len < 4 || len > attrs.len() {
                break;
            }
            if ty == IFLA_IFNAME {
                let name = &attrs[4..len];
                let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
                return &name[..end] == loopback::NAME;
            }
            attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
        }
        false
    }

    /// The reply to one request (empty for what is not a request).
    fn reply(req: &Request, port: u32) -> Vec<u8> {
        if req.flags & NLM_F_REQUEST == 0 || req.ty < RTM_BASE {
            return Vec::new();
        }
        let dump = req.flags & NLM_F_DUMP == NLM_F_DUMP;
        match req.ty {
            _ if req.ty > RTM_MAX => error(req, port, Some(Errno::EOPNOTSUPP)),
            // RTM_NEW*, RTM_DEL*, RTM_SET*: changes.
            _ if req.ty % 4 != 2 => error(req, port, Some(Errno::EPERM)),
            libc::RTM_GETLINK if dump => {
                [link(port, req.seq, NLM_F_MULTI), done(port, req.seq)].concat()
            }
            libc::RTM_GETLINK if asks_for_lo(req) => {
                let mut out = link(port, req.seq, 0);
                if req.flags & NLM_F_ACK != 0 {
                    out.extend(error(req, port, None));
                }
                out
            }
            libc::RTM_GETLINK => error(req, port, Some(Errno::ENODEV)),
            libc::RTM_GETADDR if dump => {
                let family = req.payload().first().map_or(0, |&f| i32::from(f));
                let mut out = addrs(port, req.seq, family).concat();
                out.extend(done(port, req.seq));
                out
            }
            _ if dump => done(port, req.seq),
            _ => error(req, port, Some(Errno::EOPNOTSUPP)),
        }
    }

    /// The replies to the requests in one datagram, one datagram each.
    pub(super) fn answer(data: &[u8], port: u32) -> Vec<Vec<u8>> {
        let mut replies = Vec::new();
        let mut off = 0;
        while data.len() - off >= NLMSG_HDR {
            let h = &data[off..];
            let len = u32::from_ne_bytes(h[..4].try_into().expect("4 bytes")) as usize;
            if len < NLMSG_HDR || len > h.len() {
                break;
            }
            let req = Request {
                ty: u16::from_ne_bytes([h[4], h[5]]),
                flags: u16::from_ne_bytes([h[6], h[7]]),
                seq: u32::from_ne_bytes(h[8..12].try_into().expect("4 bytes")),
                raw: &h[..len],
            };
            let r = reply(&req, port);
            if !r.is_empty() {
                replies.push(r);
            }
            off += len.next_multiple_of(4).min(h.len());
        }
        replies
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn request(ty: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
            let mut m = Out::new(ty, flags | NLM_F_REQUEST, 77, 0);
            m.put(payload);
            m.finish()
        }

        /// (type, flags, payload) of each message in a reply datagram.
        fn parse(d: &[u8]) -> Vec<(u16, u16, Vec<u8>)> {
            let mut out = Vec::new();
            let mut off = 0;
            while off < d.len() {
                let len = u32::from_ne_bytes(d[off..off + 4].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes([d[off + 4], d[off + 5]]);
                let flags = u16::from_ne_bytes([d[off + 6], d[off + 7]]);
                assert_eq!(
                    u32::from_ne_bytes(d[off + 8..off + 12].try_into().unwrap()),
                    77
                );
                assert_eq!(
                    u32::from_ne_bytes(d[off + 12..off + 16].try_into().unwrap()),
                    9
                );
                out.push((ty, flags, d[off + 16..off + len].to_vec()));
                off += len.next_multiple_of(4);
            }
            out
        }

        #[test]
        fn link_and_address_dumps_describe_lo() {
            let links = answer(&request(libc::RTM_GETLINK, NLM_F_DUMP, &[0; 16]), 9);
            let msgs = parse(&links[0]);
            assert_eq!(msgs.len(), 2);
            assert_eq!((msgs[0].0, msgs[0].1), (libc::RTM_NEWLINK, NLM_F_MULTI));
            assert_eq!(&msgs[0].2[4..8], &1i32.to_ne_bytes());
            assert_eq!(msgs[1].0, NLMSG_DONE);
            let all = answer(&request(libc::RTM_GETADDR, NLM_F_DUMP, &[0; 8]), 9);
            let msgs = parse(&all[0]);
            assert_eq!(msgs.len(), 3);
            assert_eq!(msgs[0].2[..2], [libc::AF_INET as u8, 8]);
            assert_eq!(msgs[1].2[..2], [libc::AF_INET6 as u8, 128]);
            let v6 = answer(
                &request(libc::RTM_GETADDR, NLM_F_DUMP, &[libc::AF_INET6 as u8]),
                9,
            );
            assert_eq!(parse(&v6[0]).len(), 2);
        }

        #[test]
        fn gets_changes_and_unknown_types() {
            let mut by_index = [0u8; 16];
            by_index[4] = 1;
            let r = answer(&request(libc::RTM_GETLINK, NLM_F_ACK, &by_index), 9);
            let msgs = parse(&r[0]);
            assert_eq!(msgs.len(), 2);
            assert_eq!(msgs[1].0, NLMSG_ERROR);
            assert_eq!(&msgs[1].2[..4], &0i32.to_ne_bytes());
            by_index[4] = 2;
            let r = answer(&request(libc::RTM_GETLINK, 0, &by_index), 9);
            assert_eq!(&parse(&r[0])[0].2[..4], &(-(libc::ENODEV)).to_ne_bytes());
            let r = answer(&request(libc::RTM_NEWADDR, 0, &[0; 8]), 9);
            assert_eq!(&parse(&r[0])[0].2[..4], &(-(libc::EPERM)).to_ne_bytes());
            let r = answer(&request(libc::RTM_GETROUTE, NLM_F_DUMP, &[0; 12]), 9);
            assert_eq!(parse(&r[0])[0].0, NLMSG_DONE);
            assert!(answer(&[1, 2, 3], 9).is_empty());
        }
    }
}
