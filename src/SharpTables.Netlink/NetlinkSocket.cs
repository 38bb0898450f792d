using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SharpTables.Netlink;

/// <summary>A netlink error: the errno the kernel (or a socket call) returned, with what we were doing.</summary>
public sealed class NetlinkException(int errno, string message) : Exception($"{message}: {new System.ComponentModel.Win32Exception(errno).Message} (errno {errno})")
{
    /// <summary>The positive errno value (EBUSY = 16, EPERM = 1, EOPNOTSUPP = 95, ...).</summary>
    public int Errno { get; } = errno;
}

/// <summary>
/// An AF_NETLINK socket opened through libc (socket + bind to the kernel-assigned port id) and
/// wrapped in a .NET <see cref="System.Net.Sockets.Socket"/> for sending and receiving. The socket
/// is non-blocking; <see cref="Receive"/> waits with poll().
/// </summary>
public sealed class NetlinkSocket : IDisposable
{
    private NetlinkSocket(Socket socket) => Socket = socket;

    /// <summary>The wrapped socket (do not use <c>Available</c>: it throws on netlink).</summary>
    public Socket Socket { get; }

    /// <summary>Opens and binds a netlink socket of <paramref name="protocol"/> (NETLINK_NETFILTER = 12).</summary>
    public static unsafe NetlinkSocket Open(int protocol)
    {
        int fd = Native.socket(Native.AF_NETLINK, Native.SOCK_RAW | Native.SOCK_CLOEXEC, protocol);
        if (fd < 0) throw new NetlinkException(Marshal.GetLastPInvokeError(), "socket(AF_NETLINK)");
        // struct sockaddr_nl { u16 nl_family; u16 nl_pad; u32 nl_pid; u32 nl_groups; }: pid 0 lets the kernel pick.
        byte* addr = stackalloc byte[12];
        new Span<byte>(addr, 12).Clear();
        *(ushort*)addr = Native.AF_NETLINK;
        if (Native.bind(fd, addr, 12) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Native.close(fd);
            throw new NetlinkException(errno, "bind(AF_NETLINK)");
        }
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true)) { Blocking = false };
        return new NetlinkSocket(socket);
    }

    /// <summary>
    /// Asks for a receive buffer of <paramref name="bytes"/>: SO_RCVBUFFORCE (root may exceed
    /// net.core.rmem_max), falling back to SO_RCVBUF. Returns whether the forced size was set.
    /// </summary>
    public bool SetReceiveBuffer(int bytes)
    {
        Span<byte> value = stackalloc byte[4];
        MemoryMarshal.Write(value, in bytes);
        try
        {
            Socket.SetRawSocketOption(Native.SOL_SOCKET, Native.SO_RCVBUFFORCE, value);
            return true;
        }
        catch (SocketException)
        {
            Socket.SetRawSocketOption(Native.SOL_SOCKET, Native.SO_RCVBUF, value);
            return false;
        }
    }

    /// <summary>Sets an int socket option at SOL_NETLINK (NETLINK_NO_ENOBUFS, NETLINK_CAP_ACK, ...).</summary>
    public void SetNetlinkOption(int option, int value)
    {
        Span<byte> v = stackalloc byte[4];
        MemoryMarshal.Write(v, in value);
        Socket.SetRawSocketOption(Native.SOL_NETLINK, option, v);
    }

    /// <summary>Sends one datagram (one or more netlink messages) to the kernel.</summary>
    public void Send(ReadOnlySpan<byte> datagram)
    {
        int sent = Socket.Send(datagram, SocketFlags.None, out var error);
        if (error != SocketError.Success) throw new NetlinkException(Errno(error), "send(netlink)");
        if (sent != datagram.Length) throw new NetlinkException(5 /* EIO */, "send(netlink) was short");
    }

    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/>, waiting up to <paramref name="timeoutMs"/>
    /// (0 = do not wait, -1 = forever). Returns its length, 0 when nothing arrived in time, or -1 when
    /// the kernel reported lost messages (ENOBUFS) — the caller goes on.
    /// </summary>
    public int Receive(Span<byte> buffer, int timeoutMs)
    {
        while (true)
        {
            int n = Socket.Receive(buffer, SocketFlags.None, out var error);
            switch (error)
            {
                case SocketError.Success:
                    return n;
                case SocketError.WouldBlock:
                    if (timeoutMs == 0) return 0;
                    if (!Socket.Poll(timeoutMs < 0 ? -1 : timeoutMs * 1000, SelectMode.SelectRead)) return 0;
                    timeoutMs = 0;
                    continue;
                case SocketError.Interrupted:
                    continue;
                case SocketError.NoBufferSpaceAvailable:
                    return -1;
                default:
                    throw new NetlinkException(Errno(error), "recv(netlink)");
            }
        }
    }

    /// <summary>The errno behind a SocketError (.NET maps it back on Linux).</summary>
    private static int Errno(SocketError error) => new SocketException((int)error).NativeErrorCode;

    /// <summary>Closes the socket; the kernel forgets everything bound to it.</summary>
    public void Dispose() => Socket.Dispose();
}
