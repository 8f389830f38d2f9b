//! The server certificate checks: [`PgVerifier`] (the chain against the root file, with
//! libpq's name rules) and the unverified mode of `allow`, `prefer` and `require`, with
//! just enough DER reading for the name check and pinned certificates.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// A host name check failed; carries the names the certificate has, for the hint.
#[derive(Debug)]
pub(super) struct NameMismatch {
    pub(super) names: Vec<String>,
}

impl fmt::Display for NameMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate not valid for the host; it names {}",
            self.names.join(", ")
        )
    }
}

impl std::error::Error for NameMismatch {}

/// Verification against the root file: webpki's chain check, plus what libpq accepts on
/// top of it (a self-signed server certificate pinned as the root, the common name when
/// there are no alternative names), and without the name check for `verify-ca`.
#[derive(Debug)]
pub(super) struct PgVerifier {
    pub(super) inner: Arc<WebPkiServerVerifier>,
    /// The root file's certificates, DER.
    pub(super) pinned: Vec<Vec<u8>>,
    pub(super) check_name: bool,
}

impl PgVerifier {
    fn check_name(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        presented: Option<Vec<String>>,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let info = cert_info(end_entity);
        let presented = match presented {
            Some(p) => p,
            None => match webpki::EndEntityCert::try_from(end_entity) {
                Ok(ee) => match ee.verify_is_valid_for_subject_name(server_name) {
                    Ok(()) => return Ok(ServerCertVerified::assertion()),
                    Err(webpki::Error::CertNotValidForName(cx)) => cx.presented,
                    Err(_) => Vec::new(),
                },
                Err(_) => return Err(CertificateError::BadEncoding.into()),
            },
        };
        let host = server_name.to_str();
        // webpki lists the alternative names as `DnsName("db.example.com")`,
        // `IpAddress(10.0.0.1)`, `DirectoryName`, ...: keep the host names and addresses.
        let presented: Vec<String> = presented
            .iter()
            .filter_map(|p| {
                p.strip_prefix("DnsName(\"")
                    .and_then(|n| n.strip_suffix("\")"))
                    .or_else(|| p.strip_prefix("IpAddress(")?.strip_suffix(')'))
                    .map(str::to_string)
            })
            .collect();
        if presented.is_empty() {
            if let Some(cn) = info.as_ref().and_then(|i| i.common_name.as_deref()) {
                if name_matches(cn, &host) {
                    return Ok(ServerCertVerified::assertion());
                }
            }
        }
        let names = if presented.is_empty() {
            info.and_then(|i| i.common_name).into_iter().collect()
        } else {
            presented
        };
        Err(CertificateError::Other(rustls::OtherError(Arc::new(NameMismatch { names }))).into())
    }
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match result {
            Ok(v) => Ok(v),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                presented,
                ..
            })) => self.check_name(end_entity, server_name, Some(presented)),
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)) => {
                self.check_name(end_entity, server_name, None)
            }
            Err(error) => {
                // webpki refuses a certificate marked as a CA as the server's own; a
                // self-signed certificate made with `openssl req -x509` is one. When the
                // root file holds exactly that certificate, it is trusted as itself.
                if !self.pinned.iter().any(|p| p == end_entity.as_ref()) {
                    return Err(error);
                }
                let info = cert_info(end_entity).ok_or(CertificateError::BadEncoding)?;
                let now = now.as_secs() as i64;
                if info.not_after.is_some_and(|t| now > t) {
                    return Err(CertificateError::Expired.into());
                }
                if info.not_before.is_some_and(|t| now < t) {
                    return Err(CertificateError::NotValidYet.into());
                }
                if self.check_name {
                    self.check_name(end_entity, server_name, None)
                } else {
                    Ok(ServerCertVerified::assertion())
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The one place where the server's certificate is not checked: `sslmode` `allow`,
/// `prefer` and `require` without a root file encrypt the connection without
/// authenticating the server, as libpq does. The handshake signatures are still checked
/// (the server must hold the key of the certificate it shows).
pub(super) mod no_verification {
    use super::*;

    #[derive(Debug)]
    pub(in crate::protocol::tls) struct AcceptAnyServerCert {
        provider: Arc<CryptoProvider>,
    }

    impl AcceptAnyServerCert {
        pub(in crate::protocol::tls) fn new(provider: Arc<CryptoProvider>) -> Self {
            AcceptAnyServerCert { provider }
        }
    }

    impl ServerCertVerifier for AcceptAnyServerCert {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
}

/// libpq's name match: case-insensitive, and a leading `*.` matches one label.
pub(super) fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    let host = host.trim_end_matches('.');
    if let Some(suffix) = pattern.strip_prefix("*.") {
        match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest.eq_ignore_ascii_case(suffix),
            None => false,
        }
    } else {
        pattern.eq_ignore_ascii_case(host)
    }
}

/// What the name check and the pinned-certificate path need from a certificate.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's (last) common name.
    pub common_name: Option<String>,
    /// Validity, in seconds since the Unix epoch.
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
}

/// Reads the subject's common name and the validity period of an X.509 certificate.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (tag, cert, _) = der::next(der)?;
    if tag != der::SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der::next(cert)?;
    if tag != der::SEQUENCE {
        return None;
    }
    let (tag, _, mut rest) = der::next(tbs)?;
    if tag == der::VERSION {
        (_, _, rest) = der::next(rest)?; // serial number
    }
    (_, _, rest) = der::next(rest)?; // signature algorithm
    (_, _, rest) = der::next(rest)?; // issuer
    let (tag, validity, rest) = der::next(rest)?;
    if tag != der::SEQUENCE {
        return None;
    }
    let (t1, v1, after) = der::next(validity)?;
    let (t2, v2, _) = der::next(after)?;
    let mut info = CertInfo {
        not_before: der::time(t1, v1),
        not_after: der::time(t2, v2),
        ..CertInfo::default()
    };
    let (tag, subject, _) = der::next(rest)?;
    if tag != der::SEQUENCE {
        return None;
    }
    // RDNSequence: SET of SEQUENCE { OID, value }.
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (_, set, next) = der::next(rdns)?;
        rdns = next;
        let mut attrs = set;
        while !attrs.is_empty() {
            let (_, attr, next) = der::next(attrs)?;
            attrs = next;
            let (oid_tag, oid, val) = der::next(attr)?;
            if oid_tag == der::OID && oid == der::COMMON_NAME {
                let (t, v, _) = der::next(val)?;
                info.common_name = der::string(t, v);
            }
        }
    }
    Some(info)
}

/// Just enough DER to walk a certificate.
pub(super) mod der {
    pub const SEQUENCE: u8 = 0x30;
    pub const OID: u8 = 0x06;
    /// `[0] EXPLICIT Version` of a TBSCertificate.
    pub const VERSION: u8 = 0xa0;
    /// 2.5.4.3, id-at-commonName.
    pub const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

    /// The tag, contents and the rest after one element.
    pub fn next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    /// UTF8String, PrintableString, IA5String, TeletexString (read as Latin-1) and
    /// BMPString.
    pub fn string(tag: u8, value: &[u8]) -> Option<String> {
        match tag {
            0x0c | 0x13 | 0x16 => String::from_utf8(value.to_vec()).ok(),
            0x14 => Some(value.iter().map(|&b| char::from(b)).collect()),
            0x1e => {
                let units: Vec<u16> = value
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).ok()
            }
            _ => None,
        }
    }

    /// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as Unix seconds.
    pub fn time(tag: u8, value: &[u8]) -> Option<i64> {
        let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let num = |s: &str| s.parse::<i64>().ok();
        let (year, rest) = match (tag, text.len()) {
            (0x17, 12) => {
                let yy = num(&text[..2])?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
            }
            (0x18, 14) => (num(&text[..4])?, &text[4..]),
            _ => return None,
        };
        let (month, day) = (num(&rest[..2])? as u32, num(&rest[2..4])? as u32);
        let (h, m, s) = (num(&rest[4..6])?, num(&rest[6..8])?, num(&rest[8..10])?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let days = spillway_core::convert::days_from_civil(year, month, day);
        Some(days * 86_400 + h * 3600 + m * 60 + s)
    }
}
