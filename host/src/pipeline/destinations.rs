//! Where a store's webhook may point: public addresses only. A store key
//! must not be able to make the server post to itself, to the machine's
//! other services or to a cloud metadata endpoint. The URL is checked when
//! the sink is set, and the resolved addresses again at every delivery
//! (the connection then goes to the address that was checked, so a name
//! that resolves differently later cannot slip through). The platform
//! admin can allow named hosts (`--allow-webhook-host`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Debug, Clone, Default)]
pub struct Destinations {
    /// Hosts (names or addresses, as written in URLs) allowed whatever
    /// they resolve to.
    allowed: Vec<String>,
}

/// A checked destination: the URL's host and the address to connect to
/// (none for an allowed host, which is resolved as usual).
pub struct Checked {
    pub host: String,
    pub addr: Option<SocketAddr>,
}

impl Destinations {
    pub fn new(allowed: Vec<String>) -> Self {
        let allowed = allowed
            .into_iter()
            .map(|h| h.trim().trim_matches(['[', ']']).to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        Destinations { allowed }
    }

    /// Checks a URL as given (scheme, host; a literal address must be
    /// public). Names are checked when they are resolved, at delivery.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let (host, _) = self.host_of(url)?;
        if self.is_allowed(&host) {
            return Ok(());
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return public(ip);
        }
        if host == "localhost" || host.ends_with(".localhost") {
            return Err(format!("`{host}` is this machine; {}", Self::HOW));
        }
        Ok(())
    }

    /// Resolves the URL's host and checks every address it has.
    pub async fn resolve(&self, url: &str) -> Result<Checked, String> {
        self.check_url(url)?;
        let (host, port) = self.host_of(url)?;
        if self.is_allowed(&host) {
            return Ok(Checked { host, addr: None });
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
            .collect();
        for a in &addrs {
            public(a.ip()).map_err(|e| format!("`{host}` resolves to {e}"))?;
        }
        let addr = addrs.first().copied().ok_or_else(|| format!("`{host}` has no address"))?;
        Ok(Checked { host, addr: Some(addr) })
    }

    const HOW: &'static str = "webhooks go to public addresses only (the platform admin can allow a host with --allow-webhook-host)";

    fn is_allowed(&self, host: &str) -> bool {
        self.allowed.iter().any(|a| a == host)
    }

    fn host_of(&self, url: &str) -> Result<(String, u16), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("must be an http:// or https:// URL".into());
        }
        let host =
            parsed.host_str().ok_or("has no host")?.trim_matches(['[', ']']).to_ascii_lowercase();
        let port = parsed.port_or_known_default().unwrap_or(80);
        Ok((host, port))
    }
}

/// Whether an address is one a webhook may go to; the error says what it is.
fn public(ip: IpAddr) -> Result<(), String> {
    let what = match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4),
            None => v6_kind(v6),
        },
    };
    match what {
        None => Ok(()),
        Some(kind) => Err(format!("{ip}, a {kind} address; {}", Destinations::HOW)),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata)")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("broadcast or multicast")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else if a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique local (private)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused() {
        let d = Destinations::default();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://localhost/hook",
            "http://api.localhost/hook",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "ftp://example.com/",
        ] {
            assert!(d.check_url(url).is_err(), "{url} should be refused");
        }
        for url in
            ["https://hooks.example.com/x", "http://93.184.216.34/", "http://[2606:4700::1111]/"]
        {
            assert!(d.check_url(url).is_ok(), "{url} should pass");
        }
        let why = d.check_url("http://127.0.0.1/").unwrap_err();
        assert!(why.contains("loopback") && why.contains("--allow-webhook-host"), "{why}");
    }

    #[test]
    fn the_admin_can_allow_a_host() {
        let d = Destinations::new(vec!["127.0.0.1".into(), "Hooks.Internal".into()]);
        assert!(d.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(d.check_url("http://hooks.internal/hook").is_ok());
        assert!(d.check_url("http://127.0.0.2/hook").is_err());
    }

    #[tokio::test]
    async fn delivery_connects_to_the_address_it_checked() {
        let d = Destinations::new(vec!["127.0.0.1".into()]);
        let c = d.resolve("http://93.184.216.34:8443/hook").await.unwrap();
        assert_eq!(c.addr, Some("93.184.216.34:8443".parse().unwrap()));
        // An allowed host is resolved by the client as usual.
        assert!(d.resolve("http://127.0.0.1:9/").await.unwrap().addr.is_none());
        assert!(d.resolve("http://192.168.0.1/").await.is_err());
    }
}
