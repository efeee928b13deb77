//! CA certificates for the firmware's TLS trust store, the way a node's
//! firmware holds them: the UEFI variable `TlsCaCertificate`, an EFI
//! signature list of X.509 certificates.
//!
//! OVMF fills that variable from the fw_cfg file [`FW_CFG_NAME`]
//! (tianocore/edk2 `OvmfPkg/Library/TlsAuthConfigLib/TlsAuthConfigLib.c`,
//! present where OVMF is built with `NETWORK_TLS_ENABLE`), and EFI builds of
//! iPXE from March 2025 on read it at start and trust every certificate in
//! it (ipxe/ipxe `src/interface/efi/efi_cacert.c`, unless iPXE was built
//! with its own root list, `TRUST=`).
//!
//! The layout (UEFI spec, "EFI_SIGNATURE_LIST"; edk2
//! `MdePkg/Include/Guid/ImageAuthentication.h`): one list per certificate,
//! since every list holds signatures of one size:
//!
//! ```text
//! SignatureType        16  EFI_CERT_X509_GUID
//! SignatureListSize     4  LE, the whole list (28 + SignatureSize)
//! SignatureHeaderSize   4  LE, 0
//! SignatureSize         4  LE, 16 + the certificate's DER length
//! SignatureOwner       16  who added it (ephemeros's own GUID)
//! SignatureData         n  the certificate, DER
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;

/// The fw_cfg file OVMF turns into `TlsCaCertificate`.
pub const FW_CFG_NAME: &str = "etc/edk2/https/cacerts";

/// A UEFI GUID, stored as UEFI lays it out: the first three fields
/// little-endian, the last eight bytes as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guid {
    pub data1: u32,
    pub data2: u16,
    pub data3: u16,
    pub data4: [u8; 8],
}

impl Guid {
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&self.data1.to_le_bytes());
        b[4..6].copy_from_slice(&self.data2.to_le_bytes());
        b[6..8].copy_from_slice(&self.data3.to_le_bytes());
        b[8..].copy_from_slice(&self.data4);
        b
    }
}

/// `EFI_CERT_X509_GUID` (edk2 `MdePkg/Include/Guid/ImageAuthentication.h`).
pub const EFI_CERT_X509: Guid = Guid {
    data1: 0xa5c0_59a1,
    data2: 0x94e4,
    data3: 0x4aa7,
    data4: [0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72],
};

/// The owner written into each entry: ephemeros's own (random) GUID,
/// e848ba09-4f03-4f19-988f-e6fe840e1560, so an entry says where it came from.
pub const OWNER: Guid = Guid {
    data1: 0xe848_ba09,
    data2: 0x4f03,
    data3: 0x4f19,
    data4: [0x98, 0x8f, 0xe6, 0xfe, 0x84, 0x0e, 0x15, 0x60],
};

/// Fixed part of a list: type, three sizes.
const LIST_HEADER_LEN: usize = 16 + 4 + 4 + 4;
/// Before the certificate in each entry: the owner.
const ENTRY_HEADER_LEN: usize = 16;

/// Far above any real certificate (a few KiB); keeps every size of the
/// list within its 32-bit fields.
const MAX_CERT_LEN: usize = 1 << 20;

/// One X.509 certificate, DER, checked to have a certificate's outer shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
}

impl Certificate {
    /// Takes DER bytes that have the shape of an X.509 certificate.
    pub fn from_der(der: Vec<u8>) -> Result<Self, String> {
        if der.len() > MAX_CERT_LEN {
            return Err(format!(
                "{} bytes, more than any certificate (at most {MAX_CERT_LEN})",
                der.len()
            ));
        }
        check_certificate_shape(&der)?;
        Ok(Self { der })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether the certificate's key is an elliptic-curve one (its
    /// signatures are ECDSA), which iPXE builds before December 2025
    /// cannot verify.
    pub fn has_ec_key(&self) -> bool {
        spki_algorithm(&self.der).is_some_and(|oid| oid == ID_EC_PUBLIC_KEY)
    }
}

/// id-ecPublicKey, 1.2.840.10045.2.1 (RFC 5480), as DER contents.
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// The algorithm OID of the subjectPublicKeyInfo: the seventh field of the
/// tbsCertificate, or the sixth without the optional version (RFC 5280
/// 4.1). None where the shape differs (from_der already checked it).
fn spki_algorithm(der: &[u8]) -> Option<&[u8]> {
    let (_, cert, _) = tlv(der).ok()?;
    let (_, mut tbs, _) = tlv(cert).ok()?;
    let mut fields = Vec::new();
    while !tbs.is_empty() {
        let (tag, contents, rest) = tlv(tbs).ok()?;
        fields.push((tag, contents));
        tbs = rest;
    }
    let skip = usize::from(fields.first()?.0 == EXPLICIT_0);
    let (_, spki) = *fields.get(skip + 5)?;
    let (_, algorithm, _) = tlv(spki).ok()?;
    let (tag, oid, _) = tlv(algorithm).ok()?;
    (tag == OID).then_some(oid)
}

/// A file given as a CA certificate that cannot be used as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CaFileError {
    pub path: PathBuf,
    /// `Some(n)`: where in a PEM file (1-based line).
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for CaFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "{}:{n}: {}", self.path.display(), self.problem),
            None => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}

/// Reads the certificates of one file: DER (one certificate) or PEM (one
/// or more `CERTIFICATE` blocks, e.g. a bundle).
pub fn read_file(path: &Path) -> Result<Vec<Certificate>, CaFileError> {
    let bytes = std::fs::read(path).map_err(|e| CaFileError {
        path: path.to_owned(),
        line: None,
        problem: format!("cannot read it: {e}"),
    })?;
    parse(&bytes).map_err(|(line, problem)| CaFileError {
        path: path.to_owned(),
        line,
        problem,
    })
}

/// The certificates in `bytes` (DER or PEM); the error says where (a PEM
/// line) and what is wrong.
pub fn parse(bytes: &[u8]) -> Result<Vec<Certificate>, (Option<usize>, String)> {
    if bytes.first() == Some(&0x30) {
        return Certificate::from_der(bytes.to_vec())
            .map(|c| vec![c])
            .map_err(|e| (None, format!("not a DER X.509 certificate: {e}")));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| (None, "neither a PEM nor a DER X.509 certificate".to_owned()))?;
    parse_pem(text)
}

fn parse_pem(text: &str) -> Result<Vec<Certificate>, (Option<usize>, String)> {
    let mut certs = Vec::new();
    // (label, line of BEGIN, base64 so far)
    let mut open: Option<(String, usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if let Some(label) = armor(line, "-----BEGIN ") {
            if open.is_some() {
                return Err((Some(n), "BEGIN inside another PEM block".into()));
            }
            if label.contains("PRIVATE KEY") {
                // Never read on: the key is no business of the firmware's.
                return Err((
                    Some(n),
                    format!(
                        "holds a private key ({label}); give only the CA's certificate, \
                         the key stays with the CA"
                    ),
                ));
            }
            open = Some((label.to_owned(), n, String::new()));
        } else if let Some(label) = armor(line, "-----END ") {
            let Some((begun, at, b64)) = open.take() else {
                return Err((Some(n), format!("END {label} without BEGIN")));
            };
            if begun != label {
                return Err((
                    Some(n),
                    format!("END {label} closes BEGIN {begun} of line {at}"),
                ));
            }
            if !matches!(label, "CERTIFICATE" | "X509 CERTIFICATE") {
                return Err((Some(at), format!("a PEM {label} block, not a CERTIFICATE")));
            }
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| (Some(at), format!("the certificate's base64 is broken: {e}")))?;
            let cert = Certificate::from_der(der)
                .map_err(|e| (Some(at), format!("not an X.509 certificate: {e}")))?;
            certs.push(cert);
        } else if let Some((_, _, b64)) = open.as_mut() {
            // RFC 7468 headers (`Name: value`) are not base64.
            if !line.contains(':') {
                b64.push_str(line);
            }
        }
    }
    if let Some((label, at, _)) = open {
        return Err((Some(at), format!("BEGIN {label} is never ended")));
    }
    if certs.is_empty() {
        return Err((
            None,
            "no certificate in it (expected PEM `-----BEGIN CERTIFICATE-----` or DER)".into(),
        ));
    }
    Ok(certs)
}

/// `-----BEGIN LABEL-----` -> `LABEL` for the given prefix.
fn armor<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)?.strip_suffix("-----")
}

/// The EFI signature list holding `certs`, one list per certificate.
pub fn signature_list(certs: &[Certificate]) -> Vec<u8> {
    let mut out = Vec::new();
    for cert in certs {
        let signature_size = ENTRY_HEADER_LEN + cert.der.len();
        let list_size = LIST_HEADER_LEN + signature_size;
        // from_der bounds a certificate to MAX_CERT_LEN.
        let as_u32 = |n: usize| u32::try_from(n).expect("certificate within MAX_CERT_LEN");
        out.extend_from_slice(&EFI_CERT_X509.to_bytes());
        out.extend_from_slice(&as_u32(list_size).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&as_u32(signature_size).to_le_bytes());
        out.extend_from_slice(&OWNER.to_bytes());
        out.extend_from_slice(&cert.der);
    }
    out
}

/// One DER TLV: `(tag, contents, rest)`.
fn tlv(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = bytes.split_first().ok_or("truncated")?;
    let (&first, rest) = rest.split_first().ok_or("truncated length")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("unsupported or truncated DER length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(format!(
            "an element claims {len} bytes, {} are left",
            rest.len()
        ));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The tags of the elements of a constructed value's contents.
fn element_tags(mut contents: &[u8]) -> Result<Vec<u8>, String> {
    let mut tags = Vec::new();
    while !contents.is_empty() {
        let (tag, _, rest) = tlv(contents)?;
        tags.push(tag);
        contents = rest;
    }
    Ok(tags)
}

const SEQUENCE: u8 = 0x30;
const BIT_STRING: u8 = 0x03;
const INTEGER: u8 = 0x02;
const EXPLICIT_0: u8 = 0xa0;
const OID: u8 = 0x06;

/// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm
/// SEQUENCE, signatureValue BIT STRING } (RFC 5280 4.1), and the
/// tbsCertificate has a certificate's fields (version or serial first, at
/// least six of them), which tells it from a key or a signing request.
fn check_certificate_shape(der: &[u8]) -> Result<(), String> {
    let (tag, contents, rest) = tlv(der)?;
    if tag != SEQUENCE {
        return Err("does not start with a SEQUENCE".into());
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the certificate", rest.len()));
    }
    let (tbs_tag, tbs, _) = tlv(contents)?;
    if element_tags(contents)? != [SEQUENCE, SEQUENCE, BIT_STRING] {
        return Err("not the three parts of a signed certificate".into());
    }
    let fields = element_tags(tbs)?;
    if tbs_tag != SEQUENCE || fields.len() < 6 || !matches!(fields[0], EXPLICIT_0 | INTEGER) {
        return Err("its signed part does not have a certificate's fields".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real certificate (a throwaway self-signed test CA, RSA 2048; its
    /// key was never kept).
    const CA_PEM: &str = include_str!("../tests/fixtures/test-ca.pem");
    const CA_DER: &[u8] = include_bytes!("../tests/fixtures/test-ca.der");

    /// The smallest DER with a certificate's shape: tbs with six empty
    /// fields, an empty algorithm, an empty bit string.
    fn tiny_cert() -> Vec<u8> {
        let tbs = [
            0x30, 12, 0x02, 0, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0,
        ];
        let mut inner = tbs.to_vec();
        inner.extend([0x30, 0, 0x03, 0]);
        let mut der = vec![0x30, inner.len() as u8];
        der.extend(inner);
        der
    }

    #[test]
    fn an_ec_key_is_told_from_an_rsa_one() {
        let ec = parse(include_bytes!("../tests/fixtures/test-ec-ca.pem")).unwrap();
        assert!(ec[0].has_ec_key());
        assert!(!parse(CA_DER).unwrap()[0].has_ec_key());
        assert!(!Certificate::from_der(tiny_cert()).unwrap().has_ec_key());
    }

    #[test]
    fn guids_have_the_uefi_byte_order() {
        assert_eq!(
            EFI_CERT_X509.to_bytes(),
            [
                0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b,
                0xf0, 0x72
            ]
        );
        assert_eq!(
            OWNER.to_bytes(),
            [9, 186, 72, 232, 3, 79, 25, 79, 152, 143, 230, 254, 132, 14, 21, 96]
        );
    }

    #[test]
    fn one_certificate_gives_one_list_byte_for_byte() {
        let der = tiny_cert();
        let cert = Certificate::from_der(der.clone()).unwrap();
        let esl = signature_list(&[cert]);
        let n = der.len();
        let mut want = EFI_CERT_X509.to_bytes().to_vec();
        want.extend(((28 + 16 + n) as u32).to_le_bytes());
        want.extend(0u32.to_le_bytes());
        want.extend(((16 + n) as u32).to_le_bytes());
        want.extend(OWNER.to_bytes());
        want.extend(&der);
        assert_eq!(esl, want);
        assert_eq!(esl.len(), 28 + 16 + n);
    }

    #[test]
    fn each_certificate_gets_its_own_list() {
        let a = Certificate::from_der(tiny_cert()).unwrap();
        let b = Certificate::from_der(CA_DER.to_vec()).unwrap();
        let esl = signature_list(&[a.clone(), b.clone()]);
        let first = 28 + 16 + a.der().len();
        assert_eq!(&esl[16..20], &(first as u32).to_le_bytes());
        assert_eq!(&esl[first..first + 16], &EFI_CERT_X509.to_bytes());
        let second = u32::from_le_bytes(esl[first + 16..first + 20].try_into().unwrap());
        assert_eq!(second as usize, 28 + 16 + b.der().len());
        assert_eq!(esl.len(), first + second as usize);
        assert_eq!(&esl[first + 44..], b.der());
        assert!(signature_list(&[]).is_empty());
    }

    #[test]
    fn pem_and_der_of_one_certificate_agree() {
        let from_pem = parse(CA_PEM.as_bytes()).unwrap();
        let from_der = parse(CA_DER).unwrap();
        assert_eq!(from_pem.len(), 1);
        assert_eq!(from_pem, from_der);
        assert_eq!(from_pem[0].der(), CA_DER);
    }

    #[test]
    fn a_bundle_gives_every_certificate_in_order() {
        let bundle = format!("# a comment\n{CA_PEM}\n{}", pem_of(&tiny_cert()));
        let certs = parse(bundle.as_bytes()).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].der(), CA_DER);
        assert_eq!(certs[1].der(), tiny_cert());
    }

    fn pem_of(der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
    }

    fn problem(bytes: &[u8]) -> (Option<usize>, String) {
        parse(bytes).unwrap_err()
    }

    #[test]
    fn a_private_key_is_refused_without_reading_it() {
        let pem = format!(
            "{CA_PEM}-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBieXRlcw==\n-----END PRIVATE KEY-----\n"
        );
        let (line, msg) = problem(pem.as_bytes());
        assert_eq!(line, Some(CA_PEM.lines().count() + 1));
        assert!(msg.contains("private key"), "{msg}");
        assert!(!msg.contains("c2VjcmV0"), "{msg}");
    }

    #[test]
    fn what_is_not_a_certificate_is_named() {
        let (_, msg) = problem(b"hello\n");
        assert!(msg.contains("no certificate"), "{msg}");
        let (_, msg) = problem(&[0xff, 0xfe, 0x00]);
        assert!(msg.contains("neither a PEM nor a DER"), "{msg}");
        let (line, msg) = problem(
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        );
        assert_eq!(line, Some(1));
        assert!(msg.contains("CERTIFICATE REQUEST block"), "{msg}");
        let (line, msg) =
            problem(b"x\n-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n");
        assert_eq!(line, Some(2));
        assert!(msg.contains("base64"), "{msg}");
        let (line, msg) = problem(b"-----BEGIN CERTIFICATE-----\nMAA=\n");
        assert_eq!(line, Some(1));
        assert!(msg.contains("never ended"), "{msg}");
        // Truncated DER, and DER with trailing bytes.
        let der = tiny_cert();
        let (_, msg) = problem(&der[..der.len() - 1]);
        assert!(msg.starts_with("not a DER X.509 certificate"), "{msg}");
        let mut long = der.clone();
        long.push(0);
        assert!(problem(&long).1.contains("1 bytes after"));
        let huge = Certificate::from_der(vec![0x30; MAX_CERT_LEN + 1]).unwrap_err();
        assert!(huge.contains("more than any certificate"), "{huge}");
        // A SEQUENCE of the right outer shape whose signed part is no
        // certificate's (four fields, as a signing request has).
        let csr_like = [
            0x30, 14, 0x30, 8, 0x02, 0, 0x30, 0, 0x30, 0, 0xa0, 0, 0x30, 0, 0x03, 0,
        ];
        assert!(problem(&csr_like).1.contains("certificate's fields"));
    }

    #[test]
    fn file_errors_name_the_file_and_line() {
        let dir = std::env::temp_dir().join(format!("ephemeros-cacerts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.pem");
        std::fs::write(
            &bad,
            "\n-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = read_file(&bad).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:2: ", bad.display())), "{err}");
        let missing = dir.join("missing.pem");
        let err = read_file(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: cannot read it", missing.display())),
            "{err}"
        );
        let good = dir.join("ca.pem");
        std::fs::write(&good, CA_PEM).unwrap();
        assert_eq!(read_file(&good).unwrap()[0].der(), CA_DER);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
