"""Publishers and players we did not write, against the real server: FFmpeg's WHIP muxer,
GStreamer's ``webrtcbin`` publishing over WHIP and playing over WHEP, and the DTLS roles and
cipher suites that let them connect (``streaming/dtls.py``).

Each third-party client runs in its own process (``tests/streaming/clients/``); what it sends is
decoded by an aiortc WHEP viewer and by ffprobe reading the HLS output.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdtlstransport import RTCCertificate
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from streaming.broadcaster import ClockPattern, Tone
from streaming.dtls import Certificate
from tests.conftest import LiveServer, service_unavailable
from tests.streaming.synthetic import FFPROBE
from tests.streaming.test_whip_whep import LOOPBACK, SDP, SMALL, first_frames, new_stream, play, publish

CLIENTS = Path(__file__).parent / "clients"
SYSTEM_PYTHON = "/usr/bin/python3"
PICTURE = (320, 240)  # what both third-party publishers send


def gstreamer_ready() -> None:
    """GStreamer's webrtcbin, x264enc and the system Python's ``gi``, or a skip (a failure in CI)."""
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0');"
        "from gi.repository import Gst; Gst.init(None);"
        "missing = [e for e in ('webrtcbin', 'x264enc', 'opusenc', 'nicesrc', 'avdec_h264')"
        " if Gst.ElementFactory.find(e) is None]; assert not missing, missing"
    )
    try:
        subprocess.run([SYSTEM_PYTHON, "-c", probe], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        service_unavailable(
            "GStreamer (webrtcbin through python3-gi)", RuntimeError(detail.decode()[-300:] or error)
        )


class Client:
    """A third-party client process; its output is kept for the assertions and for failures."""

    def __init__(self, *command: str) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def finish(self, timeout: float = 60) -> str:
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        return self.finish(10)


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    started: list[Client] = []
    yield started
    for client in started:
        client.stop()


def probe_hls(url: str) -> dict[str, dict[str, object]]:
    """The streams ffprobe decodes from an HLS playlist, by kind."""
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}


async def until_live(http: httpx.AsyncClient, stream_id: int, client: Client, timeout: float = 30) -> None:
    """Wait for the stream to go live; fail with the client's output if it exits first."""
    async with asyncio.timeout(timeout):
        while (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] != "live":
            if client.process.poll() is not None:
                raise AssertionError(f"the publisher exited: {client.finish()}")
            await asyncio.sleep(0.1)


async def viewers_decode(
    server: LiveServer, stream_id: int, size: tuple[int, int], *, hls: bool = True
) -> None:
    """An aiortc WHEP viewer decodes pictures of ``size`` and audio; ffprobe decodes the HLS output."""
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        player = await play(http, stream_id)
        try:
            assert player.response.status_code == 201, player.response.text
            video = await first_frames(player, "video", 5, timeout=30)
            assert all(isinstance(f, av.VideoFrame) and (f.width, f.height) == size for f in video)
            audio = await first_frames(player, "audio", 3, timeout=30)
            assert all(isinstance(f, av.AudioFrame) and f.sample_rate == 48000 for f in audio)
        finally:
            await player.pc.close()
        if not hls:
            return
        # The HLS output exists once its first segment is complete.
        async with asyncio.timeout(30):
            while (await http.get(f"/live/{stream_id}/index.m3u8")).status_code != 200:
                await asyncio.sleep(0.1)
    streams = await asyncio.to_thread(probe_hls, f"{server.url}/live/{stream_id}/index.m3u8")
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == size
    assert streams["audio"]["codec_name"] == "aac"


def self_signed(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """A certificate for ``key``, as WebRTC stacks make them: self-signed, valid around now."""
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def p256_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key, "publisher")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_gstreamer_publishes_over_whip_and_every_viewer_decodes_it(
    live_server: LiveServer, clients: list[Client]
) -> None:
    gstreamer_ready()
    stream_id, key = new_stream(live_server)
    publisher = Client(
        SYSTEM_PYTHON,
        str(CLIENTS / "gst_whip.py"),
        f"{live_server.url}/api/streams/{stream_id}/whip",
        key,
        "60",
    )
    clients.append(publisher)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        await until_live(http, stream_id, publisher)
    await viewers_decode(live_server, stream_id, PICTURE)
    out = publisher.stop()
    # webrtcbin offered actpass with its RSA certificate; we answered as the DTLS server.
    assert "answer setup passive" in out and "connection connected" in out, out


async def test_ffmpeg_publishes_over_whip_and_every_viewer_decodes_it(
    live_server: LiveServer, clients: list[Client], tmp_path: Path
) -> None:
    stream_id, key = new_stream(live_server)
    cert, private_key = p256_certificate(tmp_path)
    url = f"{live_server.url}/api/streams/{stream_id}/whip"
    publisher = Client(
        sys.executable, str(CLIENTS / "ffmpeg_whip.py"), url, key, "60", str(cert), str(private_key)
    )
    clients.append(publisher)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        await until_live(http, stream_id, publisher)
    await viewers_decode(live_server, stream_id, PICTURE)


async def test_gstreamer_plays_over_whep(live_server: LiveServer, clients: list[Client]) -> None:
    gstreamer_ready()
    stream_id, key = new_stream(live_server)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        publisher = await publish(http, stream_id, key)
        try:
            assert publisher.response.status_code == 201, publisher.response.text
            url = f"{live_server.url}/api/streams/{stream_id}/whep"
            player = Client(SYSTEM_PYTHON, str(CLIENTS / "gst_whep.py"), url, "6")
            clients.append(player)
            out = await asyncio.to_thread(player.finish, 60)
        finally:
            await publisher.pc.close()
    frames = [line.split() for line in out.splitlines() if line.startswith("frames ")]
    assert frames, out
    count, size = int(frames[-1][1]), frames[-1][2]
    # Six seconds of a 30 fps picture, from the first keyframe on.
    assert count >= 30 and size == f"{SMALL[0]}x{SMALL[1]}", out


async def offer_to_publish(
    http: httpx.AsyncClient, pc: RTCPeerConnection, stream_id: int, key: str, setup: str
) -> httpx.Response:
    """POST ``pc``'s offer of a test picture and a tone to the stream's WHIP endpoint, its DTLS
    role rewritten to ``setup`` (aiortc itself always offers ``actpass``)."""
    pc.addTransceiver(ClockPattern(*SMALL), direction="sendonly")
    pc.addTransceiver(Tone(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return await http.post(
        f"/api/streams/{stream_id}/whip",
        content=pc.localDescription.sdp.replace("a=setup:actpass", f"a=setup:{setup}"),
        headers={**SDP, "Authorization": f"Bearer {key}"},
    )


@pytest.mark.parametrize(
    ("offered", "answered"), [("actpass", "passive"), ("active", "passive"), ("passive", "active")]
)
async def test_the_answer_takes_the_dtls_server_role_when_the_offer_allows(
    live_server: LiveServer, offered: str, answered: str
) -> None:
    stream_id, key = new_stream(live_server)
    pc = RTCPeerConnection(LOOPBACK)
    try:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
            response = await offer_to_publish(http, pc, stream_id, key, offered)
        assert response.status_code == 201, response.text
        setups = {line for line in response.text.splitlines() if line.startswith("a=setup:")}
        assert setups == {f"a=setup:{answered}"}
    finally:
        await pc.close()


class RsaCertificate(Certificate):
    """A publisher's RSA certificate (what GStreamer generates), served with RSA suites."""

    @classmethod
    def generateCertificate(cls) -> RsaCertificate:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = self_signed(key, "rsa-publisher")
        return cls(key=key, cert=cert)  # type: ignore[arg-type]


async def test_as_dtls_client_the_server_reaches_a_publisher_with_an_rsa_certificate(
    live_server: LiveServer,
) -> None:
    """A publisher that insists on being the DTLS server (``a=setup:passive``, as FFmpeg does) with an
    RSA certificate: aiortc's ECDSA-only client suites found no shared cipher with it."""
    stream_id, key = new_stream(live_server)
    pc = RTCPeerConnection(LOOPBACK)
    pc._RTCPeerConnection__certificates = [RsaCertificate.generateCertificate()]  # type: ignore[attr-defined]
    assert isinstance(pc._RTCPeerConnection__certificates[0], RTCCertificate)  # type: ignore[attr-defined]
    try:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
            response = await offer_to_publish(http, pc, stream_id, key, "passive")
            assert response.status_code == 201, response.text
            await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
            async with asyncio.timeout(20):
                while pc.connectionState != "connected":
                    assert pc.connectionState not in ("failed", "closed"), pc.connectionState
                    await asyncio.sleep(0.05)
        # (aiortc's encoder sends one keyframe only: no HLS segment would ever be complete.)
        await viewers_decode(live_server, stream_id, SMALL, hls=False)
    finally:
        await pc.close()
