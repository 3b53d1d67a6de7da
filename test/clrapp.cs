// clrapp.cs - the clr group's .NET target (built by the suite with the SDK's
// csc.dll, run as `dotnet.exe clrapp.dll MODE`).  Prints pid=, ready, then
// heartbeat lines from a thread of its own.  Modes:
//   loop   throws and catches, in a loop: a System.Net.WebException, a
//          PdTest.PdTestException (a custom type, its message on two lines),
//          a System.IO.FileNotFoundException and a NullReferenceException
//          that starts as an access violation; prints "round N" after each
//   crash  waits for a debugger (IsDebuggerPresent), then throws an
//          InvalidOperationException that nothing catches
//   postmortem  throws it at once (the postmortem debugger, -j, sees it)
using System;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading;

namespace PdTest
{
	public class PdTestException : Exception
	{
		public PdTestException(string m) : base(m) { }
	}

	public static class App
	{
		[DllImport("kernel32.dll")]
		static extern bool IsDebuggerPresent();

		static object nothing;

		static void Beat()
		{
			for (;;) {
				Console.WriteLine("heartbeat");
				Thread.Sleep(100);
			}
		}

		static void Round(int n)
		{
			try {
				throw new WebException("The remote name could not be resolved: 'pd.test'");
			} catch (WebException) { }
			try {
				throw new PdTestException("custom failure \"" + n + "\"\nsecond line");
			} catch (PdTestException) { }
			try {
				throw new System.IO.FileNotFoundException("pd test: no such file", "pd.missing");
			} catch (System.IO.FileNotFoundException) { }
			try {
				Console.WriteLine(nothing.ToString());
			} catch (NullReferenceException) { }
		}

		public static int Main(string[] args)
		{
			string mode = args.Length > 0 ? args[0] : "loop";
			Console.WriteLine("pid=" + System.Diagnostics.Process.GetCurrentProcess().Id);
			new Thread(Beat) { IsBackground = true }.Start();
			Console.WriteLine("ready");
			if (mode == "crash" || mode == "postmortem") {
				while (mode == "crash" && !IsDebuggerPresent())
					Thread.Sleep(20);
				throw new InvalidOperationException("pd test: nobody catches this");
			}
			for (int n = 1; ; n++) {
				Round(n);
				Console.WriteLine("round " + n);
				Thread.Sleep(150);
			}
		}
	}
}
