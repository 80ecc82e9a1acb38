// Builds LoRaWAN frames with lora-packet (an independent LoRaWAN implementation) and prints them
// as JSON for routing/tests/peer_crosscheck.rs: the PHY payload in hex and what lora-packet reads
// back from the wire bytes (kind, DevAddr, FCnt, EUIs, FPort, plaintext), with the keys used.
// Run by the test; install its dependency with scripts/setup.sh --tests (npm ci in this folder).
"use strict";

const lora = require("lora-packet");

const hex = (text) => Buffer.from(text, "hex");

const APP_KEY = "2b7e151628aed2a6abf7158809cf4f3c";
const NWK_S_KEY = "44024241ed4ce9a68c6a8bc055233fd3";
const APP_S_KEY = "ec925802ae430ca77fd3dd73cb2cc588";
const OTHER_KEY = "000102030405060708090a0b0c0d0e0f";

const KINDS = {
  "Join Request": "join_request",
  "Unconfirmed Data Up": "unconfirmed_data_up",
  "Confirmed Data Up": "confirmed_data_up",
};

// Bytes of a deterministic pseudo-random payload of `len` bytes.
function payloadOf(len, seed) {
  const bytes = Buffer.alloc(len);
  let state = seed >>> 0;
  for (let i = 0; i < len; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

function joinRequest(name, joinEui, devEui, devNonce, appKey) {
  const packet = lora.fromFields(
    { MType: "Join Request", AppEUI: hex(joinEui), DevEUI: hex(devEui), DevNonce: hex(devNonce) },
    undefined,
    undefined,
    hex(appKey),
  );
  return { name, packet, keys: { app_key: appKey } };
}

// lora-packet takes the frame counter's high 16 bits (FCntMSBytes) in the order they take in
// the MIC and encryption blocks: least significant byte first.
function fcntMsBytes(fcntHigh) {
  const msb = Buffer.alloc(2);
  msb.writeUInt16LE(fcntHigh, 0);
  return msb;
}

function dataFrame(name, fields, options = {}) {
  const nwkSKey = options.nwkSKey || NWK_S_KEY;
  const appSKey = options.appSKey || APP_S_KEY;
  const fcntHigh = options.fcntHigh || 0;
  const packet = lora.fromFields(fields, hex(appSKey), hex(nwkSKey), undefined, fcntMsBytes(fcntHigh));
  return {
    name,
    packet,
    plaintext: Buffer.from(fields.payload).toString("hex"),
    fcnt_high: fcntHigh,
    keys: { nwk_s_key: nwkSKey, app_s_key: appSKey },
  };
}

// What lora-packet reads back from the wire bytes alone.
function describe(frame) {
  const wire = frame.packet.getPHYPayload();
  const parsed = lora.fromWire(wire);
  const mtype = parsed.getMType();
  const out = {
    name: frame.name,
    phy: wire.toString("hex"),
    mtype,
    kind: KINDS[mtype] || null,
    keys: frame.keys,
  };
  if (parsed.isJoinRequestMessage()) {
    out.join_eui = parsed.AppEUI.toString("hex");
    out.dev_eui = parsed.DevEUI.toString("hex");
    out.mic_ok = lora.verifyMIC(parsed, undefined, hex(frame.keys.app_key));
  } else if (parsed.isDataMessage()) {
    const msb = fcntMsBytes(frame.fcnt_high);
    out.dev_addr = parsed.DevAddr.toString("hex");
    out.fcnt = parsed.getFCnt();
    out.fcnt_high = frame.fcnt_high;
    out.fport = parsed.getFPort();
    out.fopts = parsed.FOpts.toString("hex");
    out.plaintext = frame.plaintext;
    out.decrypted = lora
      .decrypt(parsed, hex(frame.keys.app_s_key), hex(frame.keys.nwk_s_key), msb)
      .toString("hex");
    out.mic_ok = lora.verifyMIC(parsed, hex(frame.keys.nwk_s_key), undefined, msb);
  }
  return out;
}

const frames = [
  joinRequest("join request", "70b3d57ed0000000", "0004a30b001c0530", "2f4a", APP_KEY),
  joinRequest("join request, high EUIs", "ffeeddccbbaa9988", "8000000000000001", "0000", OTHER_KEY),
  joinRequest("join request, zero EUIs", "0000000000000000", "0000000000000000", "ffff", APP_KEY),
  dataFrame("unconfirmed, FPort 1, 5 bytes", {
    MType: "Unconfirmed Data Up",
    DevAddr: hex("26011bda"),
    FCnt: hex("0001"),
    FPort: 1,
    payload: Buffer.from("hello"),
  }),
  dataFrame("unconfirmed, 24 bytes on air", {
    MType: "Unconfirmed Data Up",
    DevAddr: hex("26011bdb"),
    FCnt: hex("0002"),
    FPort: 10,
    payload: payloadOf(11, 1),
  }),
  dataFrame("unconfirmed, 25 bytes on air", {
    MType: "Unconfirmed Data Up",
    DevAddr: hex("48000001"),
    FCnt: hex("00ff"),
    FPort: 223,
    payload: payloadOf(12, 2),
  }),
  dataFrame("confirmed with FOpts", {
    MType: "Confirmed Data Up",
    DevAddr: hex("fc00ac12"),
    FCtrl: { ADR: true, ACK: false, ADRACKReq: true, FPending: false },
    FCnt: hex("1234"),
    FOpts: "0206ff20",
    FPort: 2,
    payload: payloadOf(20, 3),
  }),
  dataFrame("confirmed, 15 bytes of FOpts, FPort 100, 51 bytes", {
    MType: "Confirmed Data Up",
    DevAddr: hex("00000000"),
    FCnt: hex("ffff"),
    FOpts: "020202020202020202020202020202",
    FPort: 100,
    payload: payloadOf(51, 4),
  }),
  dataFrame("unconfirmed, FPort 0 (MAC commands, NwkSKey)", {
    MType: "Unconfirmed Data Up",
    DevAddr: hex("ffffffff"),
    FCnt: hex("0007"),
    FPort: 0,
    payload: hex("0206ff20"),
  }),
  dataFrame("unconfirmed, 222 bytes", {
    MType: "Unconfirmed Data Up",
    DevAddr: hex("260b1234"),
    FCnt: hex("8000"),
    FPort: 42,
    payload: payloadOf(222, 5),
  }),
  dataFrame(
    "unconfirmed, 32-bit counter",
    {
      MType: "Unconfirmed Data Up",
      DevAddr: hex("260b9999"),
      FCnt: hex("0003"),
      FPort: 5,
      payload: payloadOf(30, 6),
    },
    { fcntHigh: 2, nwkSKey: OTHER_KEY, appSKey: APP_KEY },
  ),
  dataFrame("unconfirmed data down", {
    MType: "Unconfirmed Data Down",
    DevAddr: hex("26011bda"),
    FCnt: hex("0004"),
    FPort: 1,
    payload: Buffer.from("down"),
  }),
  dataFrame("confirmed data down", {
    MType: "Confirmed Data Down",
    DevAddr: hex("26011bda"),
    FCnt: hex("0005"),
    FCtrl: { ACK: true },
    FPort: 3,
    payload: payloadOf(8, 7),
  }),
];

const accept = lora.fromFields(
  {
    MType: "Join Accept",
    AppNonce: hex("010203"),
    NetID: hex("000013"),
    DevAddr: hex("26011bda"),
    DLSettings: 0,
    RxDelay: 1,
  },
  undefined,
  undefined,
  hex(APP_KEY),
);
frames.push({ name: "join accept", packet: accept, keys: { app_key: APP_KEY } });

const described = frames.map((frame) => {
  const out = describe(frame);
  if (!out.mic_ok && out.kind !== null) {
    throw new Error(`lora-packet rejects the MIC of its own frame ${frame.name}`);
  }
  if (out.plaintext !== undefined && out.kind !== null && out.decrypted !== out.plaintext) {
    throw new Error(`lora-packet does not decrypt its own frame ${frame.name}`);
  }
  return out;
});
process.stdout.write(JSON.stringify({ lora_packet: require("lora-packet/package.json").version, frames: described }, null, 1) + "\n");
