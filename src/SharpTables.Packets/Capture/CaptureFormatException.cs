namespace SharpTables.Packets.Capture;

/// <summary>
/// A capture file's structure is broken (bad magic, a length that cannot be right, a block
/// that disagrees with itself). Only the file format raises it: packet contents never do.
/// </summary>
public sealed class CaptureFormatException : IOException
{
    /// <summary>Creates the exception with a message naming the problem.</summary>
    public CaptureFormatException(string message) : base(message) { }
}
