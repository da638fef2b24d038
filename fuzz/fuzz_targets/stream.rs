//! Any byte stream, split anywhere: the framer never panics and never holds more than its cap;
//! every frame it yields decodes without panicking; every decoded packet re-encodes and decodes
//! again; the exchange rules answer without panicking.
#![no_main]

use bytes::BytesMut;
use hj212::exchange::{self, Authentication, HostPolicy, Role};
use hj212::{FrameConfig, FrameDecoder, FrameEvent, Message, Packet};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fn check(packet: &Packet) {
    let _ = packet.is_valid();
    for p in packet.pollutants() {
        let _ = (p.code(), p.code_2017(), p.pol_id(), p.rtd(), p.flag());
        for f in p.fields() {
            let _ = f;
        }
    }
    let _ = exchange::owed(packet, Role::Host);
    let _ = exchange::owed(packet, Role::Device);
    let _ = exchange::host_decide(packet, Authentication::Ok, &HostPolicy::default());
    let message = Message::from_packet(packet);
    if let Ok(bytes) = message.encode() {
        let again = Packet::from_frame_bytes(&bytes).expect("an encoded message decodes");
        assert_eq!(Message::from_packet(&again), message);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x3F) + 1;
    let cap = if control & 0x40 != 0 { 256 } else { hj212::frame::MAX_DATA_LEN };
    let config = FrameConfig { max_data_len: cap };
    let mut decoder = FrameDecoder::new(config);
    let mut buf = BytesMut::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Ok(Some(event)) = decoder.decode(&mut buf) {
            if let FrameEvent::Frame(frame) = event
                && let Ok(packet) = Packet::decode(&frame)
            {
                check(&packet);
            }
        }
        assert!(buf.len() < config.max_frame_len(), "buffer over the cap");
    }
    while let Ok(Some(event)) = decoder.decode_eof(&mut buf) {
        if let FrameEvent::Frame(frame) = event
            && let Ok(packet) = Packet::decode(&frame)
        {
            check(&packet);
        }
    }
});
