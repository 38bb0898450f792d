using System.Runtime.InteropServices;

namespace SharpTables.Netlink;

/// <summary>The few libc calls .NET's Socket cannot make for AF_NETLINK (it maps family 16 to AppleTalk).</summary>
internal static unsafe partial class Native
{
    public const int AF_NETLINK = 16;
    public const int SOCK_RAW = 3;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_RCVBUF = 8;
    public const int SO_RCVBUFFORCE = 33;
    public const int SOL_NETLINK = 270;
    public const int NETLINK_NO_ENOBUFS = 5;
    public const int NETLINK_CAP_ACK = 10;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int fd, byte* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);
}
