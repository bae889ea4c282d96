"""Writes the seed corpora of the edge targets (request_head, websocket_read,
close_drain): each seed is a control byte, a seed for the cuts, and the bytes a client
sends. Run from anywhere: python3 fuzz/corpus/seeds.py"""
import os, struct
root=os.path.dirname(os.path.abspath(__file__))
def write(target, seeds):
    d=os.path.join(root,target); os.makedirs(d,exist_ok=True)
    for i,s in enumerate(seeds,1):
        open(os.path.join(d,f'seed-{i:02d}'),'wb').write(s)
KEY=b'dGhlIHNhbXBsZSBub25jZQ=='
def up(extra=b'', path=b'/ws?v=1', method=b'GET', version=b'HTTP/1.1', key=KEY, ver=b'13'):
    return method+b' '+path+b' '+version+b'\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: '+ver+b'\r\nSec-WebSocket-Key: '+key+b'\r\n'+extra+b'\r\n'
def frame(op, payload, fin=True, mask=True, rsv=0):
    b=bytes([(0x80 if fin else 0)|rsv|op])
    n=len(payload)
    m=0x80 if mask else 0
    if n<126: b+=bytes([m|n])
    elif n<65536: b+=bytes([m|126])+struct.pack('>H',n)
    else: b+=bytes([m|127])+struct.pack('>Q',n)
    if mask:
        k=b'\x01\x02\x03\x04'; b+=k+bytes(c^k[i%4] for i,c in enumerate(payload))
    else: b+=payload
    return b
close=lambda code=1000, reason=b'': frame(8, struct.pack('>H',code)+reason)
heads=[
 (0,0,up()), (0,1,up()), (0,7,up()), (0,3,up()+frame(1,b'{"t":"pong"}')),
 (0,2,up(key=b'short')), (0,5,up(ver=b'8')), (0,0,up(method=b'POST')), (0,0,up(method=b'HEAD')),
 (0,9,b'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc'),
 (0,4,up(extra=b'Origin: https://elsewhere.example\r\n')),
 (0,6,up(extra=b'X-A: 1\r\n'*65)),
 (0,0,up(path=b'/ws?v=1&resume=6f1c0e4a9b2d4c8e8a7f3b1d2c4e5f60&last_seq=41')),
 (0,1,bytes([0x16,3,1,2,0,1,0,1,0xfc,3,3])),
 (0,1,up()[:40]),
 (0,8,up(extra=b'Content-Length: 0\r\n')),
 (0,0,up(version=b'HTTP/1.0')),
 (0,2,up(extra=b'Forwarded: for=10.0.0.1\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n')),
 (0,0,up(path=b'/ws?v=x')),
]
write('request_head',[bytes([c,s])+d for c,s,d in heads])
frames=[
 (0,0,frame(1,b'{"t":"pong"}')+close()),
 (1,3,frame(1,b'hello')+frame(9,b'ping')+frame(10,b'')+close(1001,b'bye')),
 (0,1,frame(1,b'hel',fin=False)+frame(9,b'x')+frame(0,b'lo')+close()),
 (2,5,frame(2,b'\x00\xff')+close()),
 (0,2,frame(1,b'x'*200)+frame(1,b'y')+close()),
 (64,4,frame(1,b'z'*2000)+close()),
 (0,1,frame(1,b'unmasked',mask=False)+close()),
 (0,3,frame(1,b'rsv',rsv=0x40)+close()),
 (0,6,frame(3,b'')+close()),
 (0,2,frame(9,b'p'*126)+close()),
 (0,7,frame(0,b'stray')+close()),
 (0,1,frame(8,b'\x03')),
 (0,4,frame(1,b'\xff\xfe',fin=False)+frame(0,b'more')+close()),
 (0,5,frame(8,struct.pack('>H',999))),
 (128,9,frame(1,b'a'*300)+close()),
 (0,2,bytes([0x81,0xff])+struct.pack('>Q',1<<62)+b'\x01\x02\x03\x04'+b'abc'),
 (6,1,frame(1,b'1')+frame(1,b'2')+frame(1,b'3')+frame(1,b'4')+close()),
 (3,8,frame(1,b'{"t":"emit"}')+frame(1,b'\xc3',fin=False)+frame(0,b'\xa9')+close()),
 (0,0,b''),
 (5,2,frame(2,b'bin')+frame(1,b'txt')+b'\x88'),
]
seeds=[bytes([c,s])+d for c,s,d in frames]
write('websocket_read',seeds)
write('close_drain',seeds)
