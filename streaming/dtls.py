"""DTLS that meets WebRTC stacks aiortc's defaults do not: GStreamer, FFmpeg, libdatachannel.

Two differences from aiortc's behaviour, both small and upstreamable:

* **Role.** Answering an ``a=setup:actpass`` offer, aiortc picks ``active`` and becomes the DTLS
  client. We answer ``passive`` and are the DTLS server (RFC 8842 lets the answerer choose), so the
  handshake runs against our own certificate and cipher list whatever the publisher generated:
  GStreamer's ``webrtcbin`` offers actpass with an RSA certificate its server side would only
  accept RSA suites for. Offers that say ``passive`` (FFmpeg's WHIP muxer) still make us the client,
  and ``active`` offers the server, as before.
* **Client cipher suites.** aiortc's context lists ECDHE-ECDSA suites only, so as a client it cannot
  reach a server whose certificate is RSA ("no shared cipher"). :class:`Certificate` adds the
  ECDHE-RSA counterparts (same key exchange and AEADs); as a server our certificate is ECDSA, so
  clients are still answered with ECDSA suites.

One limit stays, outside our reach: a DTLS server whose certificate is on a curve deprecated by
RFC 8422 (FFmpeg 8's GnuTLS build generates secp224r1) cannot be used by a client linked with
OpenSSL 4, which no longer offers those curves. Such a publisher passes its own P-256 certificate
(``-cert_file``/``-key_file`` for FFmpeg; see the README).
"""

from __future__ import annotations

from aiortc import RTCConfiguration, RTCPeerConnection, sdp
from aiortc.rtcdtlstransport import RTCCertificate, SRTPProtectionProfile
from OpenSSL import SSL

# aiortc's four ECDSA suites, each followed by its RSA twin, and the AES-256-GCM pair.
CIPHERS = b":".join(
    [
        b"ECDHE-ECDSA-AES128-GCM-SHA256",
        b"ECDHE-RSA-AES128-GCM-SHA256",
        b"ECDHE-ECDSA-AES256-GCM-SHA384",
        b"ECDHE-RSA-AES256-GCM-SHA384",
        b"ECDHE-ECDSA-CHACHA20-POLY1305",
        b"ECDHE-RSA-CHACHA20-POLY1305",
        b"ECDHE-ECDSA-AES128-SHA",
        b"ECDHE-RSA-AES128-SHA",
        b"ECDHE-ECDSA-AES256-SHA",
        b"ECDHE-RSA-AES256-SHA",
    ]
)


class Certificate(RTCCertificate):
    """aiortc's certificate, with a context that also offers ECDHE-RSA suites as a client."""

    def _create_ssl_context(self, srtp_profiles: list[SRTPProtectionProfile]) -> SSL.Context:
        context = super()._create_ssl_context(srtp_profiles)
        context.set_cipher_list(CIPHERS)
        return context


class PeerConnection(RTCPeerConnection):
    """An :class:`RTCPeerConnection` whose DTLS transports use :class:`Certificate`."""

    def __init__(self, configuration: RTCConfiguration | None = None) -> None:
        super().__init__(configuration)
        # aiortc keeps the certificates its transports are made with in a private attribute.
        self._RTCPeerConnection__certificates = [Certificate.generateCertificate()]


def serve_dtls_when_asked(pc: RTCPeerConnection, offer: sdp.SessionDescription) -> None:
    """Be the DTLS server for every section of the applied ``offer`` that left us the choice.

    Call between ``setRemoteDescription`` and ``createAnswer``: the answer then says
    ``a=setup:passive`` for those sections.
    """
    choice = {m.rtp.muxId for m in offer.media if m.dtls is not None and m.dtls.role == "auto"}
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        # A private attribute again: aiortc has no public way to choose the answerer's role.
        if transceiver.mid in choice and transport._role == "auto":
            transport._set_role("server")
