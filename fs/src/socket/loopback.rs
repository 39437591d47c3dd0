//! The sandbox's one network interface, `lo`, as the interface ioctls (`SIOCGIF*`) and
//! netlink describe it: index 1, up and running, MTU 65536, with
//! 127.0.0.1/8 and ::1/128.

use super::Family;
use crate::Result;
use nix::errno::Errno;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The interface's name.
pub const NAME: &[u8] = b"lo";
/// Its index (`if_nametoindex("lo")`).
pub const INDEX: i32 = 1;
/// Its MTU.
pub const MTU: u32 = 65536;
/// Its transmit queue length.
pub const TXQLEN: u32 = 1000;
/// Its flags: up, loopback, running, lower layer up.
pub const FLAGS: u32 =
    (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING | libc::IFF_LOWER_UP) as u32;
/// Its hardware type (`ARPHRD_LOOPBACK`); its hardware address is six zero bytes.
pub const HW_TYPE: u16 = libc::ARPHRD_LOOPBACK;
/// Its IPv4 address and prefix length.
pub const V4: (Ipv4Addr, u8) = (Ipv4Addr::LOCALHOST, 8);
/// Its IPv6 address and prefix length.
pub const V6: (Ipv6Addr, u8) = (Ipv6Addr::LOCALHOST, 128);

/// `sizeof(struct ifreq)`: a 16-byte name, then a 24-byte union.
pub const IFREQ_SIZE: usize = 40;
/// Offset of the union in a `struct ifreq`.
const IFR_DATA: usize = 16;

/// A `sockaddr_in` of `ip` (port 0), as an `ifreq` carries addresses.
fn sockaddr_in(ip: Ipv4Addr) -> [u8; 16] {
    let mut sa = [0u8; 16];
    sa[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    sa[4..8].copy_from_slice(&ip.octets());
    sa
}

/// The netmask of a prefix length.
fn netmask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0))
}

/// The interface name in an `ifreq` (up to its NUL): `ENODEV` unless it is `lo`.
fn check_name(ifr: &[u8; IFREQ_SIZE]) -> Result<()> {
    let name = &ifr[..IFR_DATA];
    let end = name.iter().position(|&c| c == 0).unwrap_or(IFR_DATA);
    if &name[..end] == NAME {
        Ok(())
    } else {
        Err(Errno::ENODEV)
    }
}

/// The interface requests [`ifreq`] answers.
const IFREQ_REQUESTS: [libc::c_ulong; 21] = [
    libc::SIOCGIFNAME,
    libc::SIOCGIFFLAGS,
    libc::SIOCGIFINDEX,
    libc::SIOCGIFMTU,
    libc::SIOCGIFHWADDR,
    libc::SIOCGIFTXQLEN,
    libc::SIOCGIFMETRIC,
    libc::SIOCGIFADDR,
    libc::SIOCGIFNETMASK,
    libc::SIOCGIFBRDADDR,
    libc::SIOCGIFDSTADDR,
    libc::SIOCSIFFLAGS,
    libc::SIOCSIFADDR,
    libc::SIOCSIFDSTADDR,
    libc::SIOCSIFBRDADDR,
    libc::SIOCSIFNETMASK,
    libc::SIOCSIFMETRIC,
    libc::SIOCSIFMTU,
    libc::SIOCSIFNAME,
    libc::SIOCSIFHWADDR,
    libc::SIOCSIFTXQLEN,
];

/// Whether `req` is an interface ioctl on a `struct ifreq`, which [`ifreq`] answers.
pub fn is_ifreq(req: u64) -> bool {
    IFREQ_REQUESTS.contains(&(req as libc::c_ulong))
}

/// Answers the interface ioctl `req` on the guest's `struct ifreq`, in place, for a
/// socket of `family`: the device queries work on any socket, the address queries only
/// on `AF_INET` ones (`ENOTTY` elsewhere, as on Linux). Changes are `EPERM`: the sandbox
/// may not configure its interface. `ENOTTY` for what is not an interface ioctl.
pub fn ifreq(req: u64, family: Family, ifr: &mut [u8; IFREQ_SIZE]) -> Result<()> {
    let data = &mut ifr[IFR_DATA..];
    match req as libc::c_ulong {
        libc::SIOCGIFNAME => {
            let index = i32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
            if index != INDEX {
                return Err(Errno::ENODEV);
            }
            ifr[..IFR_DATA].fill(0);
            ifr[..NAME.len()].copy_from_slice(NAME);
            return Ok(());
        }
        libc::SIOCSIFFLAGS
        | libc::SIOCSIFADDR
        | libc::SIOCSIFDSTADDR
        | libc::SIOCSIFBRDADDR
        | libc::SIOCSIFNETMASK
        | libc::SIOCSIFMETRIC
        | libc::SIOCSIFMTU
        | libc::SIOCSIFNAME
        | libc::SIOCSIFHWADDR
        | libc::SIOCSIFTXQLEN => return Err(Errno::EPERM),
        _ => {}
    }
    let inet_only = matches!(
        req as libc::c_ulong,
        libc::SIOCGIFADDR | libc::SIOCGIFNETMASK | libc::SIOCGIFBRDADDR | libc::SIOCGIFDSTADDR
    );
    let known = inet_only
        || matches!(
            req as libc::c_ulong,
            libc::SIOCGIFFLAGS
                | libc::SIOCGIFINDEX
                | libc::SIOCGIFMTU
                | libc::SIOCGIFHWADDR
                | libc::SIOCGIFTXQLEN
                | libc::SIOCGIFMETRIC
        );
    if !known || (inet_only && family != Family::Inet) {
        return Err(Errno::ENOTTY);
    }
    check_name(ifr)?;
    let data = &mut ifr[IFR_DATA..];
    data.fill(0);
    match req as libc::c_ulong {
        libc::SIOCGIFFLAGS => data[..2].copy_from_slice(&(FLAGS as u16).to_ne_bytes()),
        libc::SIOCGIFINDEX => data[..4].copy_from_slice(&INDEX.to_ne_bytes()),
        libc::SIOCGIFMTU => data[..4].copy_from_slice(&MTU.to_ne_bytes()),
        libc::SIOCGIFTXQLEN => data[..4].copy_from_slice(&TXQLEN.to_ne_bytes()),
        libc::SIOCGIFMETRIC => {}
        libc::SIOCGIFHWADDR => data[..2].copy_from_slice(&HW_TYPE.to_ne_bytes()),
        libc::SIOCGIFADDR | libc::SIOCGIFDSTADDR => data[..16].copy_from_slice(&sockaddr_in(V4.0)),
        libc::SIOCGIFNETMASK => data[..16].copy_from_slice(&sockaddr_in(netmask(V4.1))),
        // `lo` has no broadcast address.
        _ => data[..16].copy_from_slice(&sockaddr_in(Ipv4Addr::UNSPECIFIED)),
    }
    Ok(())
}

/// The `ifreq` records of `SIOCGIFCONF`: one per IPv4 address (`lo`'s).
pub fn ifconf() -> Vec<[u8; IFREQ_SIZE]> {
    let mut ifr = [0u8; IFREQ_SIZE];
    ifr[..NAME.len()].copy_from_slice(NAME);
    ifr[IFR_DATA..IFR_DATA + 16].copy_from_slice(&sockaddr_in(V4.0));
    vec![ifr]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ifr(name: &[u8]) -> [u8; IFREQ_SIZE] {
        let mut r = [0u8; IFREQ_SIZE];
        r[..name.len()].copy_from_slice(name);
        r
    }

    #[test]
    fn device_queries_answer_for_lo_on_any_socket() {
        for family in [Family::Unix, Family::Inet, Family::Inet6, Family::Netlink] {
            let mut r = ifr(b"lo");
            ifreq(libc::SIOCGIFFLAGS, family, &mut r).unwrap();
            assert_eq!(u16::from_ne_bytes([r[16], r[17]]), 0x49);
            let mut r = ifr(b"lo");
            ifreq(libc::SIOCGIFINDEX, family, &mut r).unwrap();
            assert_eq!(r[16], 1);
            let mut r = ifr(b"eth0");
            assert_eq!(ifreq(libc::SIOCGIFMTU, family, &mut r), Err(Errno::ENODEV));
        }
        let mut r = ifr(b"");
        r[16] = 1;
        ifreq(libc::SIOCGIFNAME, Family::Unix, &mut r).unwrap();
        assert_eq!(&r[..3], b"lo\0");
    }

    #[test]
    fn address_queries_only_on_inet_sockets() {
        let mut r = ifr(b"lo");
        ifreq(libc::SIOCGIFADDR, Family::Inet, &mut r).unwrap();
        assert_eq!(&r[20..24], &[127, 0, 0, 1]);
        let mut r = ifr(b"lo");
        ifreq(libc::SIOCGIFNETMASK, Family::Inet, &mut r).unwrap();
        assert_eq!(&r[20..24], &[255, 0, 0, 0]);
        let mut r = ifr(b"lo");
        assert_eq!(
            ifreq(libc::SIOCGIFADDR, Family::Inet6, &mut r),
            Err(Errno::ENOTTY)
        );
        assert_eq!(
            ifreq(libc::SIOCSIFMTU, Family::Inet, &mut r),
            Err(Errno::EPERM)
        );
    }
}
