"""A WebRTC viewer for the tests: aiortc (python3-aiortc, an ICE agent, DTLS and SRTP of its
own, independent of camvisor's) in a thread of its own, counting decoded frames. The signalling
is the caller's: offer() gives the SDP to send, answer() takes the one that came back."""
import asyncio
import threading
import time

from aiortc import RTCPeerConnection, RTCSessionDescription


class Viewer:
    def __init__(self, audio=False, answerer=False):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.frames = []  # (monotonic time, width, height) of each decoded video frame
        self.audio_frames = 0
        self.ended = None
        self.pc = self._run(self._make(audio, answerer))

    def _run(self, coro, timeout=20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _make(self, audio, answerer):
        pc = RTCPeerConnection()
        if not answerer:  # an answerer's transceivers come with the offer
            pc.addTransceiver("video", direction="recvonly")
            if audio:
                pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def on_track(track):
            async def read():
                while True:
                    try:
                        f = await track.recv()
                    except Exception as e:  # the track ended: the session is over
                        self.ended = repr(e)
                        return
                    if track.kind == "video":
                        self.frames.append((time.monotonic(), f.width, f.height))
                    else:
                        self.audio_frames += 1
            asyncio.ensure_future(read())
        return pc

    def offer(self):
        async def go():
            await self.pc.setLocalDescription(await self.pc.createOffer())
            return self.pc.localDescription.sdp
        return self._run(go())

    def answer(self, sdp):
        self._run(self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer")))

    def answer_offer(self, sdp):
        """The server made the offer: the answer to send back."""
        async def go():
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            return self.pc.localDescription.sdp
        return self._run(go())

    def count(self):
        return len(self.frames)

    def wait_frames(self, n, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.frames) >= n:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        if not self.thread.is_alive():
            return  # closed already
        try:
            self._run(self.pc.close(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
