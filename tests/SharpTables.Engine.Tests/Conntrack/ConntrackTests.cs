using SharpTables.Rules.Extensions.Conntrack;
using SharpTables.Engine.Conntrack;
using SharpTables.Rules.Model;
using static SharpTables.Engine.Tests.Conntrack.TestPackets;

namespace SharpTables.Engine.Tests.Conntrack;

/// <summary>
/// Conntrack behaviour against the real kernel. Expectations cite oracle runs:
/// webhost / router-nat / ipv6 in /work/shared/oracle/examples, and small runs made for this
/// work (rules "-A INPUT -m state --state INVALID -j DROP"; verdicts and /proc lines quoted).
/// </summary>
public class ConntrackTests
{
    private const string Client = "198.51.100.2", Fw = "198.51.100.1";

    [Theory]
    // webhost: XMAS (FSRPAU) and NULL are INVALID; nmap's FIN/PSH/URG too (rule 9 + policy, not rule 2)
    [InlineData(Fin | Syn | Rst | Psh | Ack | Urg)]
    [InlineData(0)]
    [InlineData(Fin | Psh | Urg)]
    // oracle run: FIN+ACK, RST, SYN+ACK without a connection hit the INVALID rule
    [InlineData(Fin | Ack)]
    [InlineData(Rst)]
    [InlineData(Syn | Ack)]
    [InlineData(Syn | Fin)]
    public void Invalid_flag_combinations_and_impossible_first_packets_get_no_entry(byte flags)
    {
        var h = new Harness();
        var p = h.Receive(Tcp(Client, Fw, 45000, 80, flags));
        Assert.Null(p.Conn);
        Assert.Equal((ushort)ConntrackStates.Invalid, p.StateBit);
        Assert.Empty(h.Proc());
    }

    [Theory]
    // webhost: a bare ACK without a connection is NEW (nf_conntrack_tcp_loose=1); oracle run: SYN+URG and PSH+ACK are accepted as NEW too
    [InlineData(Ack)]
    [InlineData(Syn | Urg)]
    [InlineData(Psh | Ack)]
    public void Loose_pickup_and_valid_first_packets_are_new(byte flags)
    {
        var h = new Harness();
        var p = h.Receive(Tcp(Client, Fw, 45000, 80, flags, ack: flags == Syn ? 0u : 1));
        Assert.NotNull(p.Conn);
        Assert.Equal(CtInfo.New, p.CtInfo);
    }

    [Fact]
    public void Loose_zero_refuses_mid_stream_pickup()
    {
        var h = new Harness(new ConntrackOptions { TcpLoose = false });
        Assert.Null(h.Receive(Tcp(Client, Fw, 45000, 80, Ack, ack: 1)).Conn);
    }

    [Fact]
    public void Syn_answered_by_synack_is_syn_recv_for_60_seconds()
    {
        var h = new Harness();
        h.Receive(Tcp(Client, Fw, 40001, 22, Syn, seq: 1000));
        var p = h.Send(Tcp(Fw, Client, 22, 40001, Syn | Ack, seq: 5000, ack: 1001));
        Assert.Equal(CtInfo.EstablishedReply, p.CtInfo);
        h.Time.AdvanceMilliseconds(300);
        // webhost.result.nft.json conntrack
        Assert.Equal(["ipv4 2 tcp 6 59 SYN_RECV src=198.51.100.2 dst=198.51.100.1 sport=40001 dport=22 src=198.51.100.1 dst=198.51.100.2 sport=22 dport=40001 mark=0 zone=0 use=2"], h.Proc());
    }

    [Fact]
    public void Proc_line_keeps_the_kernels_column_padding()
    {
        var h = new Harness();
        h.Receive(Udp(Client, Fw, 41000, 5555));
        Assert.StartsWith("ipv4     2 udp      17 30 src=", h.Table.ProcLines().Single());
    }

    /// <summary>A kernel client/server exchange: handshake, data, client FIN, server FIN, last ACK.</summary>
    private static void FullConnection(Harness h, ushort port)
    {
        Assert.Equal(CtInfo.New, h.Receive(Tcp(Client, Fw, port, 80, Syn, seq: 1000)).CtInfo);
        h.Send(Tcp(Fw, Client, 80, port, Syn | Ack, seq: 5000, ack: 1001));
        var p = h.Receive(Tcp(Client, Fw, port, 80, Ack, seq: 1001, ack: 5001));
        Assert.Equal(CtInfo.Established, p.CtInfo);
        Assert.Equal(TcpConntrackState.Established, p.Conn!.TcpState);
        Assert.True(p.Conn.Has(ConnStatus.Assured));
        h.Receive(Tcp(Client, Fw, port, 80, Psh | Ack, seq: 1001, ack: 5001, payload: 18));
        h.Send(Tcp(Fw, Client, 80, port, Ack, seq: 5001, ack: 1019));
        h.Receive(Tcp(Client, Fw, port, 80, Fin | Ack, seq: 1019, ack: 5001));
        h.Send(Tcp(Fw, Client, 80, port, Ack, seq: 5001, ack: 1020));
        h.Send(Tcp(Fw, Client, 80, port, Fin | Ack, seq: 5001, ack: 1020));
        p = h.Receive(Tcp(Client, Fw, port, 80, Ack, seq: 1020, ack: 5002));
        Assert.Equal(TcpConntrackState.TimeWait, p.Conn!.TcpState);
    }

    [Fact]
    public void Full_connection_ends_in_time_wait_assured()
    {
        var h = new Harness();
        FullConnection(h, 34694);
        h.Time.AdvanceMilliseconds(200);
        // webhost.result.nft.json conntrack
        Assert.Equal(["ipv4 2 tcp 6 119 TIME_WAIT src=198.51.100.2 dst=198.51.100.1 sport=34694 dport=80 src=198.51.100.1 dst=198.51.100.2 sport=80 dport=34694 [ASSURED] mark=0 zone=0 use=2"], h.Proc());
    }

    [Fact]
    public void Syn_in_time_wait_reopens_the_connection()
    {
        var h = new Harness();
        FullConnection(h, 34694);
        var p = h.Receive(Tcp(Client, Fw, 34694, 80, Syn, seq: 900000));
        Assert.Equal(CtInfo.New, p.CtInfo);
        Assert.Equal(TcpConntrackState.SynSent, p.Conn!.TcpState);
        Assert.Single(h.Proc());
    }

    [Fact]
    public void Established_connection_rejects_segments_far_outside_the_window()
    {
        var h = new Harness();
        h.Receive(Tcp(Client, Fw, 40010, 80, Syn, seq: 1000));
        h.Send(Tcp(Fw, Client, 80, 40010, Syn | Ack, seq: 5000, ack: 1001));
        h.Receive(Tcp(Client, Fw, 40010, 80, Ack, seq: 1001, ack: 5001));
        Assert.Null(h.Receive(Tcp(Client, Fw, 40010, 80, Ack, seq: 1001 + 50_000_000, ack: 5001)).Conn);
        // ACK for data the server never sent
        Assert.Null(h.Receive(Tcp(Client, Fw, 40010, 80, Ack, seq: 1001, ack: 5001 + 10_000_000)).Conn);
        Assert.Equal(CtInfo.Established, h.Receive(Tcp(Client, Fw, 40010, 80, Psh | Ack, seq: 1001, ack: 5001, payload: 10)).CtInfo);
    }

    [Fact]
    public void Reject_with_tcp_reset_closes_the_entry_for_ten_seconds()
    {
        // nf_ct_set_closing (tests/fixtures/examples/reject-closing): the RST REJECT sends carries the
        // entry and never passes conntrack, so REJECT itself switches a confirmed TCP entry to CLOSE.
        var h = new Harness();
        h.Receive(Tcp(Client, Fw, 40020, 80, Syn, seq: 1000));
        var established = h.Send(Tcp(Fw, Client, 80, 40020, Syn | Ack, seq: 5000, ack: 1001));
        var reject = Reject(h, "--reject-with", "tcp-reset");
        reject.Execute(established, new TargetContext(h.State, "filter", "OUTPUT", 1));
        Assert.Equal(["ipv4 2 tcp 6 10 CLOSE src=198.51.100.2 dst=198.51.100.1 sport=40020 dport=80 src=198.51.100.1 dst=198.51.100.2 sport=80 dport=40020 mark=0 zone=0 use=2"], h.Proc());
        // In CLOSE already: the timeout is left running.
        h.Time.AdvanceMilliseconds(4000);
        reject.Execute(established, new TargetContext(h.State, "filter", "OUTPUT", 1));
        Assert.Contains(" 6 CLOSE ", h.Proc()[0]);
        h.Time.AdvanceMilliseconds(6100);
        Assert.Empty(h.Proc());

        // An ICMP error instead of the RST, or an entry not confirmed yet: nothing changes.
        var h2 = new Harness();
        h2.Receive(Tcp(Client, Fw, 40021, 80, Syn, seq: 1000));
        var synAck = h2.Send(Tcp(Fw, Client, 80, 40021, Syn | Ack, seq: 5000, ack: 1001));
        Reject(h2).Execute(synAck, new TargetContext(h2.State, "filter", "OUTPUT", 1));
        var fresh = h2.Receive(Tcp(Client, Fw, 40022, 80, Syn, seq: 1000), confirm: false);
        Reject(h2, "--reject-with", "tcp-reset").Execute(fresh, new TargetContext(h2.State, "filter", "INPUT", 1));
        Assert.Equal(TcpConntrackState.SynSent, fresh.Conn!.TcpState);
        Assert.Contains(" SYN_RECV ", Assert.Single(h2.Proc()));
    }

    private static CompiledTarget Reject(Harness h, params string[] with) =>
        SharpTables.Engine.Tests.Output.TestPackets.CompileTarget(h.State, "OUTPUT", ["-p", "tcp", "-j", "REJECT", .. with]);

    [Fact]
    public void Rst_as_the_only_reply_deletes_the_entry()
    {
        // oracle run: SYN+URG and PSH+ACK to a closed port leave no entry: the RST answer kills it
        var h = new Harness();
        h.Receive(Tcp(Client, Fw, 45004, 80, Syn | Urg, seq: 1000));
        var p = h.Send(Tcp(Fw, Client, 80, 45004, Rst | Ack, seq: 0, ack: 1001));
        Assert.NotNull(p.Conn);
        Assert.Empty(h.Proc());
    }

    [Fact]
    public void Tcp_timeouts_follow_the_state()
    {
        var h = new Harness();
        var p = h.Receive(Tcp(Client, Fw, 40020, 80, Syn, seq: 1000));
        Assert.Equal(120, h.Table.SecondsLeft(p.Conn!));
        h.Send(Tcp(Fw, Client, 80, 40020, Syn | Ack, seq: 5000, ack: 1001));
        h.Receive(Tcp(Client, Fw, 40020, 80, Ack, seq: 1001, ack: 5001));
        Assert.Equal(432000, h.Table.SecondsLeft(h.Table.Entries.Single()));
        h.Time.Advance(TimeSpan.FromDays(5) + TimeSpan.FromSeconds(1));
        Assert.Equal(0, h.Table.Count);
    }

    [Fact]
    public void Mid_stream_pickup_without_reply_lives_300_seconds()
    {
        var h = new Harness();
        var p = h.Receive(Tcp(Client, Fw, 40030, 80, Ack, seq: 7, ack: 9));
        Assert.Equal(TcpConntrackState.Established, p.Conn!.TcpState);
        Assert.Equal(300, h.Table.SecondsLeft(p.Conn));
    }

    [Fact]
    public void Udp_unreplied_then_replied_then_stream()
    {
        var h = new Harness();
        var p = h.Receive(Udp(Client, Fw, 40003, 53));
        Assert.Equal(CtInfo.New, p.CtInfo);
        h.Time.AdvanceMilliseconds(500);
        // router-nat.result.legacy.json: udp entries with [UNREPLIED] and 29 s left
        Assert.Equal(["ipv4 2 udp 17 29 src=198.51.100.2 dst=198.51.100.1 sport=40003 dport=53 [UNREPLIED] src=198.51.100.1 dst=198.51.100.2 sport=53 dport=40003 mark=0 zone=0 use=2"], h.Proc());
        var conn = p.Conn!;
        Assert.Equal(CtInfo.EstablishedReply, h.Send(Udp(Fw, Client, 53, 40003)).CtInfo);
        Assert.Equal(CtInfo.Established, h.Receive(Udp(Client, Fw, 40003, 53)).CtInfo);
        Assert.False(conn.Has(ConnStatus.Assured));
        Assert.Equal(30, h.Table.SecondsLeft(conn));
        h.Time.AdvanceMilliseconds(2000);
        h.Send(Udp(Fw, Client, 53, 40003));
        Assert.True(conn.Has(ConnStatus.Assured));
        Assert.Equal(120, h.Table.SecondsLeft(conn));
        h.Time.Advance(TimeSpan.FromSeconds(121));
        Assert.Equal(0, h.Table.Count);
    }

    [Fact]
    public void Udp_with_a_bad_checksum_is_invalid_at_prerouting_only()
    {
        var h = new Harness();
        var bytes = Udp(Client, Fw, 40004, 53);
        bytes[27] ^= 0x55;
        Assert.Null(h.Receive(bytes).Conn);
        var sent = Udp(Fw, Client, 40004, 53);
        sent[27] ^= 0x55;
        Assert.NotNull(h.Send(sent).Conn);
    }

    [Fact]
    public void Icmp_echo_is_tracked_and_answered()
    {
        var h = new Harness();
        Assert.Equal(CtInfo.New, h.Receive(Icmp(Client, Fw, 8, 0, id: 4660, seq: 1)).CtInfo);
        Assert.Equal(CtInfo.EstablishedReply, h.Send(Icmp(Fw, Client, 0, 0, id: 4660, seq: 1)).CtInfo);
        h.Time.AdvanceMilliseconds(100);
        // oracle run: "echo request" line
        Assert.Equal(["ipv4 2 icmp 1 29 src=198.51.100.2 dst=198.51.100.1 type=8 code=0 id=4660 src=198.51.100.1 dst=198.51.100.2 type=0 code=0 id=4660 mark=0 zone=0 use=2"], h.Proc());
    }

    [Theory]
    // oracle run: an unsolicited echo reply and a router advertisement (type 9) hit the INVALID rule
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(19)]
    public void Icmp_that_cannot_start_a_connection_is_invalid(byte type)
    {
        var h = new Harness();
        Assert.Null(h.Receive(Icmp(Client, Fw, type, 0, id: 999)).Conn);
    }

    [Fact]
    public void Icmp_error_about_a_known_connection_is_related()
    {
        var h = new Harness();
        var query = Udp(Fw, Client, 40100, 53);
        h.Send(query);
        var p = h.Receive(IcmpError(Client, Fw, 3, 3, query));
        Assert.Equal(CtInfo.RelatedReply, p.CtInfo);
        Assert.Equal((ushort)ConntrackStates.Related, p.StateBit);
        // the error about the reply direction, travelling the original way
        var reply = Udp(Client, Fw, 53, 40100);
        p = h.Send(IcmpError(Fw, Client, 3, 3, reply));
        Assert.Equal(CtInfo.Related, p.CtInfo);
    }

    [Fact]
    public void Icmp_error_about_an_unknown_packet_is_invalid()
    {
        // oracle run: "port unreachable quoting fw->client udp that does not exist" hits the INVALID rule
        var h = new Harness();
        Assert.Null(h.Receive(IcmpError(Client, Fw, 3, 3, Udp(Fw, Client, 7777, 41001))).Conn);
    }

    [Fact]
    public void Icmp_error_addressed_elsewhere_than_the_connection_is_invalid()
    {
        var h = new Harness();
        var query = Udp(Fw, Client, 40100, 53);
        h.Send(query);
        Assert.Null(h.Receive(IcmpError(Client, "198.51.100.9", 3, 3, query)).Conn);
    }

    [Fact]
    public void Gre_and_unknown_protocols_are_tracked()
    {
        var h = new Harness();
        h.Receive(Ipv4Packet(Client, Fw, 47, [], -1));
        h.Receive(Ipv4Packet(Client, Fw, 99, [], -1));
        h.Time.AdvanceMilliseconds(100);
        // oracle run: "proto 47 gre"
        Assert.Contains("ipv4 2 gre 47 29 timeout=30, stream_timeout=180 src=198.51.100.2 dst=198.51.100.1 srckey=0x0 dstkey=0x0 [UNREPLIED] src=198.51.100.1 dst=198.51.100.2 srckey=0x0 dstkey=0x0 mark=0 zone=0 use=2", h.Proc());
        Assert.Contains("ipv4 2 unknown 99 599 src=198.51.100.2 dst=198.51.100.1 [UNREPLIED] src=198.51.100.1 dst=198.51.100.2 mark=0 zone=0 use=2", h.Proc());
    }

    [Fact]
    public void Ipv6_lines_print_full_addresses()
    {
        var h = new Harness();
        h.Receive(Icmpv6("2001:db8:100::2", "2001:db8:100::1", 128, 0, id: 20306));
        h.Send(Icmpv6("2001:db8:100::1", "2001:db8:100::2", 129, 0, id: 20306));
        h.Receive(Udp6("2001:db8:100::2", "2001:db8:100::1", 40003, 53));
        h.Time.AdvanceMilliseconds(100);
        // ipv6.result.nft.json
        Assert.Equal([
            "ipv6 10 icmpv6 58 29 src=2001:0db8:0100:0000:0000:0000:0000:0002 dst=2001:0db8:0100:0000:0000:0000:0000:0001 type=128 code=0 id=20306 src=2001:0db8:0100:0000:0000:0000:0000:0001 dst=2001:0db8:0100:0000:0000:0000:0000:0002 type=129 code=0 id=20306 mark=0 zone=0 use=2",
            "ipv6 10 udp 17 29 src=2001:0db8:0100:0000:0000:0000:0000:0002 dst=2001:0db8:0100:0000:0000:0000:0000:0001 sport=40003 dport=53 [UNREPLIED] src=2001:0db8:0100:0000:0000:0000:0000:0001 dst=2001:0db8:0100:0000:0000:0000:0000:0002 sport=53 dport=40003 mark=0 zone=0 use=2",
        ], h.Proc());
    }

    [Fact]
    public void Neighbour_discovery_is_untracked()
    {
        var h = new Harness();
        var p = h.Receive(Icmpv6("fe80::2", "ff02::1", 135, 0));
        Assert.True(p.Untracked);
        Assert.Equal((ushort)ConntrackStates.Untracked, p.StateBit);
    }

    [Fact]
    public void Unconfirmed_entries_never_enter_the_table()
    {
        var h = new Harness();
        var p = h.Receive(Tcp(Client, Fw, 45000, 12345, Syn), confirm: false);
        Assert.Equal(CtInfo.New, p.CtInfo);
        Assert.Equal(0, h.Table.Count);
        // the same SYN again is NEW again (webhost: "random port x6" all NEW)
        Assert.Equal(CtInfo.New, h.Receive(Tcp(Client, Fw, 45000, 12345, Syn)).CtInfo);
    }

    [Fact]
    public void Full_table_evicts_unassured_entries_then_drops()
    {
        var h = new Harness(new ConntrackOptions { Max = 2 });
        h.Receive(Udp(Client, Fw, 1, 53));
        h.Receive(Udp(Client, Fw, 2, 53));
        h.Receive(Udp(Client, Fw, 3, 53));
        Assert.Equal(2, h.Table.Count);
        Assert.DoesNotContain(h.Table.Entries, c => c.Original.SourcePort == 1);

        var full = new Harness(new ConntrackOptions { Max = 1 });
        FullConnection(full, 1000);
        full.P.Load(Udp(Client, Fw, 4, 53));
        full.P.Hook = Hook.PreRouting;
        Assert.False(full.Table.In(full.P));
    }

    [Fact]
    public void Notrack_packets_are_left_alone()
    {
        var h = new Harness();
        h.P.Load(Udp(Client, Fw, 40005, 7));
        h.P.Untracked = true;
        Assert.True(h.Table.In(h.P));
        Assert.Null(h.P.Conn);
        Assert.Equal((ushort)ConntrackStates.Untracked, h.P.StateBit);
    }

    [Fact]
    public void Fragments_are_held_until_the_datagram_is_complete()
    {
        var h = new Harness();
        var whole = Udp(Client, Fw, 40006, 53, payload: 40);
        var l4 = whole[20..];
        var first = Ipv4Packet(Client, Fw, 17, l4[..24], -1, id: 0x1234, frag: 0x2000);
        var second = Ipv4Packet(Client, Fw, 17, l4[24..], -1, id: 0x1234, frag: 3);
        h.P.Load(second);
        Assert.False(h.Table.Defrag(h.P));
        h.P.Load(first);
        Assert.True(h.Table.Defrag(h.P));
        Assert.Equal(whole.Length, h.P.Length);
        Assert.Equal(whole[20..], h.P.Bytes[20..].ToArray());
        Assert.True(ChecksumsValid(h.P.Bytes));
        Assert.Equal(53, h.P.Info.DestinationPort);
        Assert.True(h.Table.In(h.P));
        Assert.Equal(CtInfo.New, h.P.CtInfo);
    }

    [Fact]
    public void Ipv6_fragments_are_reassembled_without_the_fragment_header()
    {
        var h = new Harness();
        var whole = Udp6("2001:db8:100::2", "2001:db8:100::1", 40007, 53);
        var l4 = new byte[8 + 16];
        whole.AsSpan(40).CopyTo(l4);
        l4[5] = 24; // UDP length covers 16 bytes of payload
        byte[] Frag(int offset, bool more, byte[] data)
        {
            var f = new byte[8 + data.Length];
            f[0] = 17;
            f[2] = (byte)(offset >> 5);
            f[3] = (byte)((offset << 3 & 0xf8) | (more ? 1 : 0));
            f[7] = 0x42;
            data.CopyTo(f, 8);
            return Ipv6Packet("2001:db8:100::2", "2001:db8:100::1", 44, f, -1);
        }
        h.P.Load(Frag(0, true, l4[..16]));
        Assert.False(h.Table.Defrag(h.P));
        h.P.Load(Frag(2, false, l4[16..]));
        Assert.True(h.Table.Defrag(h.P));
        Assert.Equal(40 + 24, h.P.Length);
        Assert.Equal(17, h.P.Info.Protocol);
        Assert.Equal(53, h.P.Info.DestinationPort);
        Assert.Equal(l4, h.P.Bytes[40..].ToArray());
    }

    [Fact]
    public void Overlapping_fragments_discard_the_datagram()
    {
        var h = new Harness();
        h.P.Load(Ipv4Packet(Client, Fw, 17, new byte[16], -1, id: 0x777, frag: 0x2000));
        Assert.False(h.Table.Defrag(h.P));
        h.P.Load(Ipv4Packet(Client, Fw, 17, new byte[8], -1, id: 0x777, frag: 0x2001));
        Assert.False(h.Table.Defrag(h.P));
        // this last fragment would complete [0,16) + [16,24), but the overlap threw the datagram away
        h.P.Load(Ipv4Packet(Client, Fw, 17, new byte[8], -1, id: 0x777, frag: 2));
        Assert.False(h.Table.Defrag(h.P));
    }

    [Fact]
    public void Lone_first_fragment_never_gets_through_and_expires()
    {
        var h = new Harness();
        var first = Ipv4Packet(Client, Fw, 17, new byte[16], -1, id: 0x4321, frag: 0x2000);
        h.P.Load(first);
        Assert.False(h.Table.Defrag(h.P));
        h.Time.Advance(TimeSpan.FromSeconds(31));
        var last = Ipv4Packet(Client, Fw, 17, new byte[8], -1, id: 0x4321, frag: 2);
        h.P.Load(last);
        Assert.False(h.Table.Defrag(h.P)); // the first fragment is gone
    }

    [Fact]
    public void Packet_path_allocates_nothing_for_known_connections()
    {
        var h = new Harness();
        var syn = Tcp(Client, Fw, 40040, 80, Syn, seq: 1000);
        h.Receive(syn);
        h.Send(Tcp(Fw, Client, 80, 40040, Syn | Ack, seq: 5000, ack: 1001));
        var ack = Tcp(Client, Fw, 40040, 80, Ack, seq: 1001, ack: 5001);
        h.Receive(ack);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            h.P.Load(ack);
            h.Table.In(h.P);
            h.Table.Confirm(h.P);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
